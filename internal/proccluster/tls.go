package proccluster

import (
	"crypto/tls"
	"fmt"

	"github.com/adrbench/adrbench/store/tlsinfo"
)

// TLS is what a cluster started with TLS on both ports uses: etcd's flags
// with the same files for etcd and for `adrbench serve`.
type TLS struct {
	// CAFile verifies every certificate: members' on both ports, and
	// clients' (--client-cert-auth and --peer-client-cert-auth are on).
	CAFile string
	// Member returns member i's certificate and key, valid for 127.0.0.1
	// for both server and client authentication: it serves them on both
	// ports and presents them when it dials a peer.
	Member func(i int, name string) (certFile, keyFile string)
	// ClientCertFile and ClientKeyFile are what the cluster's own
	// clients (the health checks) and ClientTLS present.
	ClientCertFile, ClientKeyFile string
}

// Validate names the first missing field of t.
func (t *TLS) Validate() error {
	switch {
	case t.CAFile == "":
		return fmt.Errorf("%w: TLS without a CA file", ErrConfig)
	case t.Member == nil:
		return fmt.Errorf("%w: TLS without members' certificates", ErrConfig)
	case t.ClientCertFile == "" || t.ClientKeyFile == "":
		return fmt.Errorf("%w: TLS without a client certificate and key", ErrConfig)
	}
	return nil
}

// flags are member i's TLS flags.
func (t *TLS) flags(i int, name string) []string {
	cert, key := t.Member(i, name)
	return []string{
		"--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + t.CAFile, "--client-cert-auth",
		"--peer-cert-file=" + cert, "--peer-key-file=" + key, "--peer-trusted-ca-file=" + t.CAFile, "--peer-client-cert-auth",
	}
}

// ClientConfig is how a client reaches the members' client ports: it
// presents ClientCertFile and verifies the members against CAFile.
func (t *TLS) ClientConfig() (*tls.Config, error) {
	tc, err := tlsinfo.Info{CertFile: t.ClientCertFile, KeyFile: t.ClientKeyFile, TrustedCAFile: t.CAFile}.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("proccluster: client TLS: %w", err)
	}
	return tc, nil
}
