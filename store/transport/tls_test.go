package transport_test

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/store/tlsinfo"
	"github.com/adrbench/adrbench/store/transport"
)

// peerTLS is one member's peer TLS: its server and client configurations.
type peerTLS struct {
	server *tls.Config
	client func(string) *tls.Config
}

// newPeerTLS issues a certificate named cn from ca and builds mutual TLS
// that trusts only ca.
func newPeerTLS(t *testing.T, ca *tlsinfo.CA, cn string) peerTLS {
	t.Helper()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.WriteFiles(dir, cn, cn, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	info := tlsinfo.Info{CertFile: cert, KeyFile: key, TrustedCAFile: caFile, ClientCertAuth: true}
	srv, err := info.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := info.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	return peerTLS{server: srv, client: cl.Config}
}

func newCA(t *testing.T, name string) *tlsinfo.CA {
	t.Helper()
	ca, err := tlsinfo.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func tlsURL(ln net.Listener) string { return "https://" + ln.Addr().String() }

// Members holding certificates of the cluster's CA exchange messages over
// mutual TLS; a member whose certificate comes from another CA can
// neither connect nor be connected to, and a raw TCP client speaking the
// peer protocol by hand does not get past TLS.
func TestTCPMutualTLS(t *testing.T) {
	ca, stranger := newCA(t, "cluster"), newCA(t, "stranger")
	lnA, lnB, lnC := listen(t), listen(t), listen(t)
	ra, rb, rc := newFakeRaft(), newFakeRaft(), newFakeRaft()
	tlsA, tlsB, tlsC := newPeerTLS(t, ca, "a"), newPeerTLS(t, ca, "b"), newPeerTLS(t, stranger, "c")
	peers := func(urls ...string) map[uint64][]string {
		m := map[uint64][]string{}
		for i, u := range urls {
			if u != "" {
				m[uint64(i+1)] = []string{u}
			}
		}
		return m
	}
	a := newTCP(t, transport.TCPConfig{ID: 1, ClusterID: 7, Listener: lnA, Raft: ra, ServerTLS: tlsA.server, ClientTLS: tlsA.client,
		Peers: peers("", tlsURL(lnB), tlsURL(lnC))})
	b := newTCP(t, transport.TCPConfig{ID: 2, ClusterID: 7, Listener: lnB, Raft: rb, ServerTLS: tlsB.server, ClientTLS: tlsB.client,
		Peers: peers(tlsURL(lnA), "", tlsURL(lnC))})
	c := newTCP(t, transport.TCPConfig{ID: 3, ClusterID: 7, Listener: lnC, Raft: rc, ServerTLS: tlsC.server, ClientTLS: tlsC.client,
		Peers: peers(tlsURL(lnA), tlsURL(lnB))})

	a.Send([]*raftpb.Message{app(1, 2, 1, []byte("x")), app(1, 3, 1, nil)})
	b.Send([]*raftpb.Message{app(2, 1, 1, nil)})
	c.Send([]*raftpb.Message{app(3, 1, 1, nil), app(3, 2, 1, nil)})
	waitFor(t, rb, "a's message over TLS", func() bool { return rb.count() == 1 })
	waitFor(t, ra, "b's message over TLS", func() bool { return ra.count() == 1 })
	poll(t, "the stranger refused by both", func() bool {
		return a.Stats().Rejected[transport.RejectTLS] > 0 && b.Stats().Rejected[transport.RejectTLS] > 0
	})
	poll(t, "the stranger refusing a", func() bool { return c.Stats().Rejected[transport.RejectTLS] > 0 })
	if got := ra.received(); len(got) != 1 || got[0].GetFrom() != 2 {
		t.Fatalf("a received %v, want b's message only", got)
	}
	if rc.count() != 0 {
		t.Fatalf("the stranger received %d messages", rc.count())
	}

	// A raw client that knows the ids cannot reach the hello.
	before := b.Stats().Rejected[transport.RejectTLS]
	raw, err := net.Dial("tcp", lnB.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write(append([]byte("ADRT"), make([]byte, 28)...)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, raw)
	poll(t, "the raw client counted", func() bool { return b.Stats().Rejected[transport.RejectTLS] > before })
	if got := b.Stats().Rejected[transport.RejectHandshake]; got != 0 {
		t.Fatalf("%d hellos were read from connections without TLS", got)
	}
}

func TestTCPURLSchemeFollowsTLS(t *testing.T) {
	ca := newCA(t, "cluster")
	p := newPeerTLS(t, ca, "a")
	tests := []struct {
		name string
		cfg  transport.TCPConfig
	}{
		{"http-peer-with-tls", transport.TCPConfig{ClientTLS: p.client, Peers: map[uint64][]string{2: {"http://127.0.0.1:1"}}}},
		{"https-peer-without-tls", transport.TCPConfig{Peers: map[uint64][]string{2: {"https://127.0.0.1:1"}}}},
		{"https-listen-without-tls", transport.TCPConfig{ListenURL: "https://127.0.0.1:0"}},
		{"http-listen-with-tls", transport.TCPConfig{ListenURL: "http://127.0.0.1:0", ServerTLS: p.server}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.ID, cfg.ClusterID, cfg.Raft = 1, 7, newFakeRaft()
			if cfg.ListenURL == "" {
				cfg.Listener = listen(t)
			}
			if tr, err := transport.NewTCP(cfg); !errorsIs(err, transport.ErrInvalidConfig, transport.ErrBadURL) {
				if tr != nil {
					tr.Close()
				}
				t.Fatalf("NewTCP = %v, want a bad URL", err)
			}
		})
	}
}
