package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/proccluster"
	"github.com/adrbench/adrbench/store/tlsinfo"
)

// opensslPKI is a CA and certificates made with the openssl command line,
// as an operator would make them.
type opensslPKI struct {
	t      *testing.T
	dir    string
	caFile string
	caKey  string
}

func newOpensslPKI(t *testing.T, name string) *opensslPKI {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH (scripts/test.sh installs it): ", err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &opensslPKI{t: t, dir: dir, caFile: filepath.Join(dir, "ca.pem"), caKey: filepath.Join(dir, "ca-key.pem")}
	p.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", p.caKey, "-out", p.caFile, "-days", "2", "-subj", "/CN="+name+"-ca",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return p
}

func (p *opensslPKI) openssl(args ...string) {
	p.t.Helper()
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		p.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// issue makes a certificate for cn valid for 127.0.0.1 and localhost, for
// server and client authentication, signed by the CA.
func (p *opensslPKI) issue(cn string) (certFile, keyFile string) {
	p.t.Helper()
	return p.issueSubject(cn, "/CN="+cn)
}

// issueSubject is issue with the certificate's subject given whole; name
// names its files.
func (p *opensslPKI) issueSubject(name, subject string) (certFile, keyFile string) {
	p.t.Helper()
	cn := name
	certFile, keyFile = filepath.Join(p.dir, cn+".pem"), filepath.Join(p.dir, cn+"-key.pem")
	csr, ext := filepath.Join(p.dir, cn+".csr"), filepath.Join(p.dir, cn+".ext")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"), 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", keyFile, "-out", csr, "-subj", subject)
	p.openssl("x509", "-req", "-in", csr, "-CA", p.caFile, "-CAkey", p.caKey, "-CAcreateserial",
		"-days", "2", "-extfile", ext, "-out", certFile)
	return certFile, keyFile
}

// clusterTLS issues a certificate per member and one for clients.
func (p *opensslPKI) clusterTLS(size int) *proccluster.TLS {
	certs := make([][2]string, size)
	for i := range certs {
		certs[i][0], certs[i][1] = p.issue(fmt.Sprintf("m%d", i))
	}
	clientCert, clientKey := p.issue("client")
	return &proccluster.TLS{
		CAFile:         p.caFile,
		Member:         func(i int, _ string) (string, string) { return certs[i][0], certs[i][1] },
		ClientCertFile: clientCert,
		ClientKeyFile:  clientKey,
	}
}

// etcdctlTLSFlags are etcdctl's flags for the cluster's CA and client
// certificate.
func etcdctlTLSFlags(t *proccluster.TLS) []string {
	return []string{"--cacert=" + t.CAFile, "--cert=" + t.ClientCertFile, "--key=" + t.ClientKeyFile}
}

// tlsGoldenPath is etcd's transcript over TLS with client certificates
// required. It is the plain transcript but for https:// in the URLs
// members list and, once authentication is enabled, the requests without
// --user: etcd takes the client certificate's common name ("client") as
// their user, an unknown one, so they are denied rather than told that no
// user was given.
const tlsGoldenPath = "testdata/etcdctl-tls.golden"

// TestTLSCluster starts 3 members with client and peer TLS from
// certificates made with openssl, client certificates required on both
// ports: the etcdctl transcript over TLS matches etcd's
// (tlsGoldenPath, rewritten with -update from a real etcd cluster), etcd's
// Go client works, and plain connections are refused. Real etcd runs with
// the same flags as the control.
func TestTLSCluster(t *testing.T) {
	etcdctl := needEtcdctl(t)
	script, err := ParseScript(readFile(t, "testdata/etcdctl.script"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flavors {
		t.Run(f.name, func(t *testing.T) {
			pki := newOpensslPKI(t, "cluster")
			spec := f.spec(t)
			spec.TLS = pki.clusterTLS(3)
			c := startCluster(t, spec, 3)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()

			got, err := Runner{Etcdctl: etcdctl, Endpoints: c.Endpoints(), Flags: etcdctlTLSFlags(spec.TLS)}.Run(ctx, script)
			if err != nil {
				t.Fatalf("run script over TLS: %v\ntranscript so far:\n%s", err, got)
			}
			if *update {
				if f.isOur {
					t.Skip("-update rewrites the golden file from etcd only")
				}
				if err := os.WriteFile(tlsGoldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, tlsGoldenPath); got != want {
				t.Fatalf("%s's transcript over TLS differs from %s (- golden, + got):\n%s", f.name, tlsGoldenPath, lineDiff(want, got))
			}

			tc, err := spec.TLS.ClientConfig()
			if err != nil {
				t.Fatal(err)
			}
			cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if _, err := cli.Put(ctx, "tls-key", "v"); err != nil {
				t.Fatalf("etcd's Go client over TLS: %v", err)
			}

			// Plain gRPC (etcdctl without --cacert) and plain HTTP are refused.
			plain := exec.CommandContext(ctx, etcdctl, "--endpoints="+c.Endpoints()[0], "--dial-timeout=2s", "--command-timeout=3s", "get", "tls-key")
			plain.Env = append(os.Environ(), "ETCDCTL_API=3")
			if out, err := plain.CombinedOutput(); err == nil {
				t.Fatalf("etcdctl without TLS was answered:\n%s", out)
			}
			hc := &http.Client{Timeout: 5 * time.Second}
			if resp, err := hc.Get("http://" + c.Endpoints()[0] + "/health"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Fatalf("plain HTTP was answered: %s", b)
				}
			}
			// A client certificate from another CA is refused.
			stranger := newOpensslPKI(t, "stranger")
			sCert, sKey := stranger.issue("client")
			other := exec.CommandContext(ctx, etcdctl, "--endpoints="+c.Endpoints()[0], "--dial-timeout=2s", "--command-timeout=3s",
				"--cacert="+spec.TLS.CAFile, "--cert="+sCert, "--key="+sKey, "get", "tls-key")
			other.Env = plain.Env
			if out, err := other.CombinedOutput(); err == nil {
				t.Fatalf("etcdctl with a certificate of another CA was answered:\n%s", out)
			}
		})
	}
}

// TestTLSPeerFromAnotherCA restarts a member with a certificate from
// another CA: the others refuse its TLS handshakes, counted on their
// /metrics, and it learns nothing of what is written meanwhile; back with
// its own certificate it catches up.
func TestTLSPeerFromAnotherCA(t *testing.T) {
	pki := newOpensslPKI(t, "cluster")
	stranger := newOpensslPKI(t, "stranger")
	spec := adrbenchSpec(t)
	spec.TLS = pki.clusterTLS(3)
	own := spec.TLS.Member
	strangerCert, strangerKey := stranger.issue("m2")
	var impostor atomic.Bool
	spec.TLS.Member = func(i int, name string) (string, string) {
		if i == 2 && impostor.Load() {
			return strangerCert, strangerKey
		}
		return own(i, name)
	}
	c := startCluster(t, spec, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tc, err := spec.TLS.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	rejectedTLS := func(m int) float64 {
		t.Helper()
		resp, err := hc.Get(c.Member(m).ClientURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v float64
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, `adrbench_peer_rejected_frames_total{reason="tls"} `) {
				_, _ = fmt.Sscan(strings.Fields(line)[1], &v)
			}
		}
		return v
	}
	before := rejectedTLS(0)

	if err := c.Stop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// m2 may have led: the write waits for m0 and m1 to agree on a leader.
	if _, err := c.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	impostor.Store(true)
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints()[:1], TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// A proposal caught in a leader change fails; the write is retried.
	for attempt := 1; ; attempt++ {
		_, err := cli.Put(ctx, "while-away", "v")
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("put while m2 is an impostor: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for rejectedTLS(0) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("m0 counted no refused TLS handshake from the impostor (still %v)", before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The impostor serves from its own state: a serializable read shows
	// whether anything reached it. Its client port presents its
	// certificate too, so this client trusts the other CA.
	m2 := c.Member(2)
	impostorTLS, err := tlsinfo.Info{CertFile: spec.TLS.ClientCertFile, KeyFile: spec.TLS.ClientKeyFile, TrustedCAFile: stranger.caFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	impostorCli, err := clientv3.New(clientv3.Config{Endpoints: []string{m2.Endpoint()}, TLS: impostorTLS, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer impostorCli.Close()
	if resp, err := impostorCli.Get(ctx, "while-away", clientv3.WithSerializable()); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("the impostor read %v, %v; want nothing", resp, err)
	}
	if st, err := impostorCli.Status(ctx, m2.Endpoint()); err != nil || st.Leader != 0 {
		t.Fatalf("the impostor's status %v, %v; want no leader", st, err)
	}

	// With its own certificate again it rejoins and catches up.
	if err := c.Stop(ctx, 2); err != nil {
		t.Fatal(err)
	}
	impostor.Store(false)
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("%v\n--- m2's log:\n%s", err, m2.Log())
	}
	back, err := clientv3.New(clientv3.Config{Endpoints: []string{m2.Endpoint()}, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if resp, err := back.Get(ctx, "while-away"); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("m2 back with its own certificate read %v, %v; want the write", resp, err)
	}
}
