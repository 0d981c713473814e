package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/adrbench/adrbench/store/mvcc"
)

// TestCertUser checks who a request without a token acts as: with client
// certificates required, its certificate's common name (as etcd); never
// for a request the JSON gateway forwards (it dials with the member's own
// certificate); and nobody without client certificate authentication.
func TestCertUser(t *testing.T) {
	kv, err := mvcc.Open(mvcc.DefaultConfig(filepath.Join(t.TempDir(), "db")), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	withCert := func(ctx context.Context, cn string) context.Context {
		cert := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
		return peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}})
	}
	plain := context.Background()
	gateway := metadata.NewIncomingContext(plain, metadata.Pairs(gatewayAcceptKey, "application/json"))
	tests := []struct {
		name      string
		certUsers bool
		ctx       context.Context
		want      string // "" = acts as nobody
	}{
		{"client certificate", true, withCert(plain, "alice"), "alice"},
		{"no certificate", true, plain, ""},
		{"forwarded by the gateway", true, withCert(gateway, "m0"), ""},
		{"client certificates not required", false, withCert(plain, "alice"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &authenticator{kv: kv, certUsers: tt.certUsers}
			ai, err := a.fromCtx(tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ai != nil {
				got = ai.user
				if ai.rev != kv.AuthRevision() {
					t.Fatalf("auth revision %d, want the store's %d", ai.rev, kv.AuthRevision())
				}
			}
			if got != tt.want {
				t.Fatalf("acts as %q, want %q", got, tt.want)
			}
		})
	}
}
