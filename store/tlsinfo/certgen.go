package tlsinfo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority made in memory: what the harness and the
// tests issue members' certificates from. Keys are ECDSA P-256.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// PEM is the CA's certificate, the content of a trusted-ca-file.
	PEM []byte
}

// certValidity is how long generated certificates are valid, as etcd's
// auto TLS certificates are.
const certValidity = 365 * 24 * time.Hour

// NewCA makes a self-signed CA named cn.
func NewCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsinfo: CA key: %w", err)
	}
	tmpl, err := template(cn)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tlsinfo: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsinfo: CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Issue makes a certificate named cn for hosts (IP addresses or DNS
// names), valid for both server and client authentication, signed by ca.
// It returns the certificate and its private key in PEM.
func (ca *CA) Issue(cn string, hosts []string) (certPEM, keyPEM []byte, err error) {
	return issue(cn, hosts, ca.Cert, ca.Key)
}

// WriteFiles issues a certificate as Issue does and writes it and its key
// to dir/name.pem and dir/name-key.pem (the key readable by the owner
// only), returning the paths.
func (ca *CA) WriteFiles(dir, name, cn string, hosts []string) (certFile, keyFile string, err error) {
	certPEM, keyPEM, err := ca.Issue(cn, hosts)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, name, certPEM, keyPEM)
}

func writePair(dir, name string, certPEM, keyPEM []byte) (string, string, error) {
	certFile := filepath.Join(dir, name+".pem")
	keyFile := filepath.Join(dir, name+"-key.pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("tlsinfo: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("tlsinfo: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("tlsinfo: %w", err)
	}
	return certFile, keyFile, nil
}

func template(cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlsinfo: serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"adrbench"}},
		NotBefore:    now.Add(-time.Hour), // tolerate clocks a little behind
		NotAfter:     now.Add(certValidity),
	}, nil
}

// issue makes a leaf certificate for hosts, signed by parent and key, or
// self-signed when parent is nil.
func issue(cn string, hosts []string, parent *x509.Certificate, parentKey crypto.Signer) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsinfo: key: %w", err)
	}
	tmpl, err := template(cn)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.BasicConstraintsValid = true
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsinfo: certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsinfo: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// SelfSign resolves AutoTLS: it returns i with CertFile and KeyFile set
// to a self-signed certificate for hosts in dir (cert.pem and key.pem),
// made the first time and reused after, as etcd keeps its auto TLS
// certificates in the data directory. An Info with certificate files, or
// without AutoTLS, is returned as it is.
func SelfSign(i Info, dir string, hosts []string) (Info, error) {
	if !i.AutoTLS || i.HasCert() {
		return i, nil
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, cerr := os.Stat(certFile)
	_, kerr := os.Stat(keyFile)
	if cerr == nil && kerr == nil {
		if _, err := loadKeyPair(certFile, keyFile); err == nil {
			i.CertFile, i.KeyFile = certFile, keyFile
			return i, nil
		}
	} else if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return i, fieldErr("auto-tls", "%v", cerr)
	}
	certPEM, keyPEM, err := issue("adrbench-auto-tls", hosts, nil, nil)
	if err != nil {
		return i, fieldErr("auto-tls", "%v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return i, fieldErr("auto-tls", "%v", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return i, fieldErr("auto-tls", "%v", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return i, fieldErr("auto-tls", "%v", err)
	}
	i.CertFile, i.KeyFile = certFile, keyFile
	return i, nil
}
