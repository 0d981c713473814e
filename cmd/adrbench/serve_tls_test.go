package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrbench/adrbench/store/tlsinfo"
)

// Bad TLS flags stop serve before it listens, with one line naming the
// flag and exit code 1.
func TestServeRejectsTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsinfo.NewCA("serve-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.WriteFiles(dir, "m", "m", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.WriteFiles(dir, "other", "other", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	httpsClient := []string{"--listen-client-urls=https://127.0.0.1:1", "--advertise-client-urls=https://127.0.0.1:1"}
	httpsPeer := []string{"--listen-peer-urls=https://127.0.0.1:2", "--initial-advertise-peer-urls=https://127.0.0.1:2"}
	with := func(a []string, more ...string) []string { return append(append([]string{}, a...), more...) }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"https without a certificate", httpsClient, "--listen-client-urls: https://127.0.0.1:1 is https: give --cert-file and --key-file (or --auto-tls)"},
		{"certificate with http", []string{"--cert-file=" + cert, "--key-file=" + key}, "--listen-client-urls: http://127.0.0.1:1 is http, but --cert-file (or --auto-tls) turns TLS on for this port: use https://"},
		{"cert without key", with(httpsClient, "--cert-file="+cert), "--key-file: missing: cert-file " + cert + " needs its private key"},
		{"missing cert file", with(httpsClient, "--cert-file="+missing, "--key-file="+key), "--cert-file: stat " + missing + ": no such file or directory"},
		{"mismatched key", with(httpsPeer, "--peer-cert-file="+cert, "--peer-key-file="+otherKey), "--peer-cert-file: " + cert + " with key-file " + otherKey + ": tls: private key does not match public key"},
		{"missing CA", with(httpsClient, "--cert-file="+cert, "--key-file="+key, "--trusted-ca-file="+missing), "--trusted-ca-file: open " + missing + ": no such file or directory"},
		{"client-cert-auth without CA", with(httpsClient, "--cert-file="+cert, "--key-file="+key, "--client-cert-auth"), "--client-cert-auth: needs trusted-ca-file"},
		{"peer-client-cert-auth without CA", with(httpsPeer, "--peer-cert-file="+cert, "--peer-key-file="+key, "--peer-client-cert-auth"), "--peer-client-cert-auth: needs trusted-ca-file"},
		{"allowed CN without client cert auth", with(httpsPeer, "--peer-cert-file="+cert, "--peer-key-file="+key, "--peer-cert-allowed-cn=m"), "--peer-cert-allowed-cn: needs client-cert-auth"},
		{"bad TLS version", with(httpsClient, "--cert-file="+cert, "--key-file="+key, "--tls-min-version=TLS1.0"), `--tls-min-version: "TLS1.0" is not TLS1.2 or TLS1.3`},
		{"unknown cipher suite", with(httpsClient, "--cert-file="+cert, "--key-file="+key, "--cipher-suites=TLS_RSA_WITH_RC4_128_SHA"), `--cipher-suites: "TLS_RSA_WITH_RC4_128_SHA" is not a cipher suite Go offers as secure`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"serve", "--data-dir=" + filepath.Join(dir, "data"),
				"--listen-client-urls=http://127.0.0.1:1", "--advertise-client-urls=http://127.0.0.1:1",
				"--listen-peer-urls=http://127.0.0.1:2", "--initial-advertise-peer-urls=http://127.0.0.1:2"}
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), append(args, tt.args...), &stdout, &stderr); code != 1 {
				t.Fatalf("exit code %d, want 1; stderr %s", code, &stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) || stdout.Len() != 0 {
				t.Fatalf("stderr %q, want one line containing %q", stderr.String(), tt.want)
			}
		})
	}
}
