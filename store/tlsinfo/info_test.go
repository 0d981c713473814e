package tlsinfo

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a CA and files issued from it in a test's directory.
type pki struct {
	t   *testing.T
	dir string
	ca  *CA
	// caFile is the CA's certificate, a trusted-ca-file.
	caFile string
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	ca, err := NewCA(name + "-ca")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, dir: dir, ca: ca, caFile: caFile}
}

// issue writes a certificate for cn valid for 127.0.0.1 and localhost.
func (p *pki) issue(name, cn string) (certFile, keyFile string) {
	p.t.Helper()
	certFile, keyFile, err := p.ca.WriteFiles(p.dir, name, cn, []string{"127.0.0.1", "localhost"})
	if err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile
}

// handshake runs a TLS handshake between the two configurations over a
// loopback connection and returns each side's error.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 clients finish before the server has checked
			// their certificate: read once so a refusal reaches them.
			_, _ = s.Write([]byte{1})
		}
		a.Close()
		done <- err
	}()
	c := tls.Client(b, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		buf := make([]byte, 1)
		_, clientErr = c.Read(buf)
	}
	b.Close()
	return <-done, clientErr
}

func TestValidate(t *testing.T) {
	p := newPKI(t, "a")
	cert, key := p.issue("m1", "m1")
	other := newPKI(t, "b")
	_, otherKey := other.issue("m1", "m1")
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		info  Info
		field string // "" means valid
	}{
		{"plain", Info{}, ""},
		{"cert", Info{CertFile: cert, KeyFile: key}, ""},
		{"mutual", Info{CertFile: cert, KeyFile: key, TrustedCAFile: p.caFile, ClientCertAuth: true}, ""},
		{"allowed-cn", Info{CertFile: cert, KeyFile: key, TrustedCAFile: p.caFile, ClientCertAuth: true, AllowedCN: "m2"}, ""},
		{"auto", Info{AutoTLS: true}, ""},
		{"tls13-only", Info{CertFile: cert, KeyFile: key, MinVersion: "TLS1.3"}, ""},
		{"suites", Info{CertFile: cert, KeyFile: key, CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, ""},
		{"cert-without-key", Info{CertFile: cert}, "key-file"},
		{"key-without-cert", Info{KeyFile: key}, "cert-file"},
		{"missing-cert", Info{CertFile: filepath.Join(p.dir, "nope.pem"), KeyFile: key}, "cert-file"},
		{"missing-key", Info{CertFile: cert, KeyFile: filepath.Join(p.dir, "nope-key.pem")}, "key-file"},
		{"mismatched-key", Info{CertFile: cert, KeyFile: otherKey}, "cert-file"},
		{"garbage-cert", Info{CertFile: garbage, KeyFile: key}, "cert-file"},
		{"missing-ca", Info{CertFile: cert, KeyFile: key, TrustedCAFile: filepath.Join(p.dir, "nope-ca.pem")}, "trusted-ca-file"},
		{"garbage-ca", Info{CertFile: cert, KeyFile: key, TrustedCAFile: garbage}, "trusted-ca-file"},
		{"client-cert-auth-without-ca", Info{CertFile: cert, KeyFile: key, ClientCertAuth: true}, "client-cert-auth"},
		{"client-cert-auth-without-tls", Info{TrustedCAFile: p.caFile, ClientCertAuth: true}, "client-cert-auth"},
		{"cn-and-hostname", Info{CertFile: cert, KeyFile: key, TrustedCAFile: p.caFile, ClientCertAuth: true, AllowedCN: "a", AllowedHostname: "b"}, "cert-allowed-cn"},
		{"cn-without-client-cert-auth", Info{CertFile: cert, KeyFile: key, AllowedCN: "a"}, "cert-allowed-cn"},
		{"hostname-without-client-cert-auth", Info{CertFile: cert, KeyFile: key, AllowedHostname: "b"}, "cert-allowed-hostname"},
		{"bad-min-version", Info{CertFile: cert, KeyFile: key, MinVersion: "TLS1.1"}, "tls-min-version"},
		{"max-below-min", Info{CertFile: cert, KeyFile: key, MinVersion: "TLS1.3", MaxVersion: "TLS1.2"}, "tls-max-version"},
		{"unknown-suite", Info{CertFile: cert, KeyFile: key, CipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA"}}, "cipher-suites"},
		{"suites-with-tls13-only", Info{CertFile: cert, KeyFile: key, MinVersion: "TLS1.3", CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}}, "cipher-suites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.info.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestHandshakes(t *testing.T) {
	p := newPKI(t, "cluster")
	serverCert, serverKey := p.issue("m1", "m1")
	clientCert, clientKey := p.issue("m2", "m2")
	stranger := newPKI(t, "stranger")
	strangerCert, strangerKey := stranger.issue("m2", "m2")
	mutual := Info{CertFile: serverCert, KeyFile: serverKey, TrustedCAFile: p.caFile, ClientCertAuth: true}
	tests := []struct {
		name       string
		server     Info
		client     Info
		serverName string
		ok         bool
	}{
		{"server-only", Info{CertFile: serverCert, KeyFile: serverKey}, Info{TrustedCAFile: p.caFile}, "127.0.0.1", true},
		{"server-by-host-name", Info{CertFile: serverCert, KeyFile: serverKey}, Info{TrustedCAFile: p.caFile}, "localhost", true},
		{"server-name-not-in-certificate", Info{CertFile: serverCert, KeyFile: serverKey}, Info{TrustedCAFile: p.caFile}, "10.9.8.7", false},
		{"server-from-another-ca", Info{CertFile: strangerCert, KeyFile: strangerKey}, Info{TrustedCAFile: p.caFile}, "127.0.0.1", false},
		{"mutual", mutual, Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}, "127.0.0.1", true},
		{"mutual-without-client-certificate", mutual, Info{TrustedCAFile: p.caFile}, "127.0.0.1", false},
		{"mutual-client-from-another-ca", mutual, Info{CertFile: strangerCert, KeyFile: strangerKey, TrustedCAFile: p.caFile}, "127.0.0.1", false},
		{"allowed-cn", withAllowed(mutual, "m2", ""), Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}, "127.0.0.1", true},
		{"not-the-allowed-cn", withAllowed(mutual, "m3", ""), Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}, "127.0.0.1", false},
		{"allowed-hostname", withAllowed(mutual, "", "localhost"), Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}, "127.0.0.1", true},
		{"not-the-allowed-hostname", withAllowed(mutual, "", "example.com"), Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}, "127.0.0.1", false},
		{"client-checks-allowed-cn", Info{CertFile: serverCert, KeyFile: serverKey}, Info{TrustedCAFile: p.caFile, AllowedCN: "m9"}, "127.0.0.1", false},
		{"auto-tls-client", Info{CertFile: strangerCert, KeyFile: strangerKey}, Info{AutoTLS: true}, "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := tt.server.ServerConfig()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := tt.client.NewClient()
			if err != nil {
				t.Fatal(err)
			}
			serr, cerr := handshake(t, srv, cl.Config(tt.serverName))
			if ok := serr == nil && cerr == nil; ok != tt.ok {
				t.Fatalf("server: %v; client: %v; want success %v", serr, cerr, tt.ok)
			}
		})
	}
}

func withAllowed(i Info, cn, host string) Info {
	i.AllowedCN, i.AllowedHostname = cn, host
	return i
}

// A certificate or CA bundle rewritten on disk is used from the next
// handshake on; a file caught half-written leaves the previous one in
// use and is reported.
func TestReload(t *testing.T) {
	p := newPKI(t, "one")
	cert, key := p.issue("server", "first")
	clientCert, clientKey := p.issue("client", "client")
	var reported []string
	server := Info{CertFile: cert, KeyFile: key, TrustedCAFile: p.caFile, ClientCertAuth: true,
		OnReload: func(file string, _ error) { reported = append(reported, file) }}
	srv, err := server.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := Info{CertFile: clientCert, KeyFile: clientKey, TrustedCAFile: p.caFile}.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	presented := func() string {
		t.Helper()
		var cn string
		cfg := cl.Config("127.0.0.1")
		verify := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			cn = cs.PeerCertificates[0].Subject.CommonName
			return verify(cs)
		}
		if serr, cerr := handshake(t, srv, cfg); serr != nil || cerr != nil {
			t.Fatalf("server: %v; client: %v", serr, cerr)
		}
		return cn
	}
	if got := presented(); got != "first" {
		t.Fatalf("presented %q, want first", got)
	}
	// Rotate: a new certificate and key renamed into place.
	certPEM, keyPEM, err := p.ca.Issue("second", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	replace(t, cert, certPEM)
	replace(t, key, keyPEM)
	if got := presented(); got != "second" {
		t.Fatalf("after rotation presented %q, want second", got)
	}
	// A half-written certificate: the previous pair stays in use.
	replace(t, cert, certPEM[:len(certPEM)/2])
	if got := presented(); got != "second" {
		t.Fatalf("with a torn certificate file presented %q, want second", got)
	}
	if len(reported) == 0 || reported[len(reported)-1] != cert {
		t.Fatalf("the torn file was not reported: %v", reported)
	}
	replace(t, cert, certPEM)

	// A new CA bundle on the server: clients of the new CA are accepted,
	// those of the old one refused.
	q := newPKI(t, "two")
	newClientCert, newClientKey := q.issue("client", "client")
	replace(t, p.caFile, q.ca.PEM)
	newCl, err := Info{CertFile: newClientCert, KeyFile: newClientKey, TrustedCAFile: p.caFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	newCl.InsecureSkipVerify = true // the server's certificate is from the old CA; this checks the server side
	if serr, cerr := handshake(t, srv, newCl); serr != nil || cerr != nil {
		t.Fatalf("a client of the new CA: server %v; client %v", serr, cerr)
	}
	oldCl := cl.Config("127.0.0.1")
	oldCl.InsecureSkipVerify, oldCl.VerifyConnection = true, nil
	if serr, _ := handshake(t, srv, oldCl); !errors.Is(serr, ErrVerify) {
		t.Fatalf("a client of the replaced CA: server %v, want ErrVerify", serr)
	}
}

// replace writes b to a new file and renames it over path, as certificate
// rotation tools do.
func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestSelfSign(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fixtures", "peer")
	i, err := SelfSign(Info{AutoTLS: true}, dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if i.CertFile == "" || i.KeyFile == "" {
		t.Fatalf("SelfSign gave no files: %+v", i)
	}
	first, err := os.ReadFile(i.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	again, err := SelfSign(Info{AutoTLS: true}, dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(again.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Fatal("a second start made a new certificate instead of reusing the first")
	}
	srv, err := i.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := Info{AutoTLS: true}.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if serr, cerr := handshake(t, srv, cl.Config("127.0.0.1")); serr != nil || cerr != nil {
		t.Fatalf("auto TLS on both sides: server %v; client %v", serr, cerr)
	}
	given := Info{AutoTLS: true, CertFile: "c.pem", KeyFile: "k.pem"}
	if got, err := SelfSign(given, dir, nil); err != nil || got.CertFile != "c.pem" {
		t.Fatalf("certificate files did not win over auto TLS: %+v, %v", got, err)
	}
}
