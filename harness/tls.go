package harness

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/internal/proccluster"
	"github.com/adrbench/adrbench/store/tlsinfo"
)

// TLSCluster is a Cluster reached over TLS.
type TLSCluster interface {
	// ClientTLS is how clients reach the members' client ports. It is
	// shared: clone it to change it.
	ClientTLS() *tls.Config
}

// ClientTLS is how clients reach c: nil when c is not reached over TLS.
func ClientTLS(c Cluster) *tls.Config {
	if t, ok := c.(TLSCluster); ok {
		return t.ClientTLS()
	}
	return nil
}

// makeClusterTLS makes a CA and, from it, a certificate for each of n
// members and one for the harness's clients, in dir, each valid for
// 127.0.0.1 and localhost for server and client authentication.
func makeClusterTLS(dir string, n int) (*proccluster.TLS, error) {
	ca, err := tlsinfo.NewCA("adrbench-harness-ca")
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrTarget, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrTarget, err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrTarget, err)
	}
	hosts := []string{"127.0.0.1", "localhost"}
	certs := make([][2]string, n)
	for i := range certs {
		name := fmt.Sprintf("m%d", i)
		if certs[i][0], certs[i][1], err = ca.WriteFiles(dir, name, name, hosts); err != nil {
			return nil, fmt.Errorf("%w: TLS: %w", ErrTarget, err)
		}
	}
	clientCert, clientKey, err := ca.WriteFiles(dir, "client", "adrbench-client", hosts)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrTarget, err)
	}
	return &proccluster.TLS{
		CAFile:         caFile,
		Member:         func(i int, _ string) (string, string) { return certs[i][0], certs[i][1] },
		ClientCertFile: clientCert,
		ClientKeyFile:  clientKey,
	}, nil
}

// externalTLS is how the external target is reached with cfg's CA and
// client certificate files.
func externalTLS(cfg ClusterConfig) (*tls.Config, error) {
	if !cfg.TLS {
		return nil, nil
	}
	tc, err := tlsinfo.Info{CertFile: cfg.Cert, KeyFile: cfg.Key, TrustedCAFile: cfg.CACert}.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return tc, nil
}
