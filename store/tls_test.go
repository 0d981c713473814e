package store

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/adrbench/adrbench/store/tlsinfo"
)

// A member with client and peer TLS and client certificates required:
// etcd's client with the CA and a certificate works, the JSON gateway
// answers on the same port over HTTPS (HTTP/1.1 and clients that also
// offer h2), plain gRPC and clients without a certificate are refused,
// and no warning about an open peer port is logged.
func TestTLSMember(t *testing.T) {
	pki := newTestPKI(t)
	m := startTCPMember(t, func(c *Config) {
		securePeers(c, pki)
		c.ClientTLS = tlsinfo.Info{CertFile: pki.cert, KeyFile: pki.key, TrustedCAFile: pki.caFile, ClientCertAuth: true}
		c.ListenClientURLs = []string{strings.Replace(c.ListenClientURLs[0], "http://", "https://", 1)}
		c.AdvertiseClientURLs = c.ListenClientURLs
	})
	if strings.Contains(m.log.String(), "peer port accepts") {
		t.Fatalf("a warning about the peer port with mutual peer TLS:\n%s", m.log)
	}
	addr := m.s.ClientAddr()
	ctx := ctxT(t)

	withCert, err := tlsinfo.Info{CertFile: pki.cert, KeyFile: pki.key, TrustedCAFile: pki.caFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + addr}, TLS: withCert, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put over TLS: %v", err)
	}
	if resp, err := cli.Get(ctx, "k"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get over TLS: %v, %v", resp, err)
	}

	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("gateway/h2-offered=%v", h2), func(t *testing.T) {
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: withCert.Clone(), ForceAttemptHTTP2: h2}, Timeout: 10 * time.Second}
			resp, err := hc.Post("https://"+addr+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"aw=="}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"value":"dg=="`) {
				t.Fatalf("gateway over TLS: %s %s", resp.Status, b)
			}
		})
	}

	// Plain gRPC to the TLS port.
	plain, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pctx, cancel := ctxTimeout(t, 3*time.Second)
	defer cancel()
	if _, err := pb.NewKVClient(plain).Range(pctx, &pb.RangeRequest{Key: []byte("k")}); err == nil {
		t.Fatal("plain gRPC was answered on the TLS port")
	}
	// Plain HTTP to the TLS port.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was answered on the TLS port")
		}
	}
	// TLS without a client certificate.
	noCert, err := tlsinfo.Info{TrustedCAFile: pki.caFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	anon, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + addr}, TLS: noCert, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	actx, cancel := ctxTimeout(t, 3*time.Second)
	defer cancel()
	if _, err := anon.Get(actx, "k"); err == nil {
		t.Fatal("a client without a certificate was answered with --client-cert-auth")
	}
}

// With peer TLS but no client certificates required, the member warns
// that anyone completing a TLS handshake can speak for a member.
func TestPeerTLSWithoutClientCertAuthWarns(t *testing.T) {
	pki := newTestPKI(t)
	m := startTCPMember(t, func(c *Config) {
		securePeers(c, pki)
		c.PeerTLS.ClientCertAuth = false
	})
	if !strings.Contains(m.log.String(), "anyone who completes a TLS handshake") {
		t.Fatalf("no warning about the peer port:\n%s", m.log)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(ctxT(t), d)
}

// With --auto-tls and --peer-auto-tls the member makes self-signed
// certificates in its data directory and serves TLS on both ports with
// them: encrypted, authenticating nobody, so a client that skips
// verification is answered.
func TestAutoTLS(t *testing.T) {
	var dataDir string
	m := startTCPMember(t, func(c *Config) {
		c.ClientTLS = tlsinfo.Info{AutoTLS: true}
		c.PeerTLS = tlsinfo.Info{AutoTLS: true}
		https := func(u string) string { return strings.Replace(u, "http://", "https://", 1) }
		c.ListenClientURLs = []string{https(c.ListenClientURLs[0])}
		c.AdvertiseClientURLs = c.ListenClientURLs
		c.ListenPeerURLs = []string{https(c.ListenPeerURLs[0])}
		c.AdvertisePeerURLs = c.ListenPeerURLs
		c.InitialCluster[0].PeerURLs = c.ListenPeerURLs
		dataDir = c.DataDir
	})
	for _, f := range []string{"fixtures/client/cert.pem", "fixtures/client/key.pem", "fixtures/peer/cert.pem", "fixtures/peer/key.pem"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
			t.Fatalf("auto TLS: %v", err)
		}
	}
	if !strings.Contains(m.log.String(), "anyone who completes a TLS handshake") {
		t.Fatalf("no warning about the unauthenticated peer port:\n%s", m.log)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + m.s.ClientAddr()},
		TLS: &tls.Config{InsecureSkipVerify: true}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctxT(t), "k", "v"); err != nil {
		t.Fatalf("put over auto TLS: %v", err)
	}
}
