package tlsinfo

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// Info is one side's TLS settings, client or peer, as etcd's flags give
// them (see the package comment for their meanings). The zero Info is
// plain TCP.
type Info struct {
	CertFile        string
	KeyFile         string
	TrustedCAFile   string
	ClientCertAuth  bool
	AutoTLS         bool
	AllowedCN       string
	AllowedHostname string
	// CipherSuites are Go's names of TLS 1.2 cipher suites
	// (tls.CipherSuiteName); empty means Go's defaults.
	CipherSuites []string
	// MinVersion and MaxVersion are "TLS1.2" or "TLS1.3"; empty means
	// TLS 1.2 and TLS 1.3.
	MinVersion, MaxVersion string
	// OnReload, if set, hears of a certificate or CA file that changed and
	// could not be read again (the previous one stays in use). It is
	// called from handshakes and must not block.
	OnReload func(file string, err error)
}

// FieldError names the setting of an Info that is wrong, by the suffix of
// its etcd flag ("cert-file", "trusted-ca-file", "tls-min-version", ...),
// so a caller can name the flag, with or without its "peer-" prefix.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *FieldError) Unwrap() error { return ErrConfig }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Enabled reports whether i turns TLS on: certificate files, or AutoTLS.
func (i Info) Enabled() bool { return i.CertFile != "" || i.KeyFile != "" || i.AutoTLS }

// HasCert reports whether certificate files are given (they win over
// AutoTLS).
func (i Info) HasCert() bool { return i.CertFile != "" || i.KeyFile != "" }

// Validate checks the settings and reads the files: the certificate and
// key must both be given, parse and belong together; the CA bundle must
// hold at least one certificate; ClientCertAuth needs a CA bundle; the
// allowed CN and host name exclude each other and need ClientCertAuth;
// versions and cipher suites must be known and fit together. It returns
// the first problem as a *FieldError.
func (i Info) Validate() error {
	switch {
	case i.CertFile != "" && i.KeyFile == "":
		return fieldErr("key-file", "missing: cert-file %s needs its private key", i.CertFile)
	case i.KeyFile != "" && i.CertFile == "":
		return fieldErr("cert-file", "missing: key-file %s needs its certificate", i.KeyFile)
	}
	if i.CertFile != "" {
		if _, err := loadKeyPair(i.CertFile, i.KeyFile); err != nil {
			return err
		}
	}
	if i.TrustedCAFile != "" {
		if _, err := loadPool(i.TrustedCAFile); err != nil {
			return err
		}
	}
	if i.ClientCertAuth && i.TrustedCAFile == "" {
		return fieldErr("client-cert-auth", "needs trusted-ca-file: the CA bundle that verifies the clients' certificates")
	}
	if i.ClientCertAuth && !i.Enabled() {
		return fieldErr("client-cert-auth", "needs TLS: give cert-file and key-file (or auto-tls)")
	}
	if i.AllowedCN != "" && i.AllowedHostname != "" {
		return fieldErr("cert-allowed-cn", "give it or cert-allowed-hostname, not both")
	}
	if (i.AllowedCN != "" || i.AllowedHostname != "") && !i.ClientCertAuth {
		field := "cert-allowed-cn"
		if i.AllowedHostname != "" {
			field = "cert-allowed-hostname"
		}
		return fieldErr(field, "needs client-cert-auth: it checks the certificates peers present")
	}
	_, _, _, err := i.versionsAndSuites()
	return err
}

// versionsAndSuites resolves MinVersion, MaxVersion and CipherSuites.
func (i Info) versionsAndSuites() (minV, maxV uint16, suites []uint16, err error) {
	minV, maxV = tls.VersionTLS12, tls.VersionTLS13
	if i.MinVersion != "" {
		if minV, err = parseVersion("tls-min-version", i.MinVersion); err != nil {
			return 0, 0, nil, err
		}
	}
	if i.MaxVersion != "" {
		if maxV, err = parseVersion("tls-max-version", i.MaxVersion); err != nil {
			return 0, 0, nil, err
		}
	}
	if maxV < minV {
		return 0, 0, nil, fieldErr("tls-max-version", "%s is below tls-min-version %s", i.MaxVersion, i.MinVersion)
	}
	if len(i.CipherSuites) == 0 {
		return minV, maxV, nil, nil
	}
	if minV == tls.VersionTLS13 {
		return 0, 0, nil, fieldErr("cipher-suites", "cannot be chosen when only TLS 1.3 is allowed (TLS 1.3's suites are fixed)")
	}
	known := map[string]uint16{}
	var names []string
	for _, s := range tls.CipherSuites() {
		known[s.Name] = s.ID
		names = append(names, s.Name)
	}
	for _, name := range i.CipherSuites {
		id, ok := known[name]
		if !ok {
			return 0, 0, nil, fieldErr("cipher-suites", "%q is not a cipher suite Go offers as secure (known: %s)", name, strings.Join(names, ", "))
		}
		if slices.Contains(suites, id) {
			return 0, 0, nil, fieldErr("cipher-suites", "%q is listed twice", name)
		}
		suites = append(suites, id)
	}
	return minV, maxV, suites, nil
}

func parseVersion(field, s string) (uint16, error) {
	switch strings.ToUpper(s) {
	case "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fieldErr(field, "%q is not TLS1.2 or TLS1.3", s)
}

// ServerConfig returns the configuration of a listener: it presents the
// certificate (read again when its files change), requires and verifies a
// client certificate when ClientCertAuth is set, and offers nextProtos
// for ALPN. Validate first; ServerConfig repeats only what it needs.
func (i Info) ServerConfig(nextProtos ...string) (*tls.Config, error) {
	if i.CertFile == "" {
		return nil, fieldErr("cert-file", "no certificate: give cert-file and key-file, or resolve auto-tls with SelfSign first")
	}
	minV, maxV, suites, err := i.versionsAndSuites()
	if err != nil {
		return nil, err
	}
	pair, err := newKeyPairFile(i.CertFile, i.KeyFile, i.OnReload)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   minV,
		MaxVersion:   maxV,
		CipherSuites: suites,
		NextProtos:   nextProtos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return pair.get(), nil
		},
	}
	if i.ClientCertAuth {
		ca, err := newCAFile(i.TrustedCAFile, i.OnReload)
		if err != nil {
			return nil, err
		}
		// crypto/tls only asks for the certificate; VerifyConnection
		// verifies it against the bundle as it is now.
		cfg.ClientAuth = tls.RequireAnyClientCert
		v := verifier{ca: ca, usage: x509.ExtKeyUsageClientAuth, allowedCN: i.AllowedCN, allowedHost: i.AllowedHostname}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return v.verify(cs, "", false) }
	}
	return cfg, nil
}

// Client dials servers of one side: it presents the side's certificate,
// read again when its files change, and verifies each server against the
// CA bundle as it is at that handshake.
type Client struct {
	minV, maxV uint16
	suites     []uint16
	nextProtos []string
	pair       *keyPairFile // nil: no client certificate
	v          verifier
	insecure   bool // AutoTLS without a CA bundle: verify nothing
}

// NewClient returns the client of this side: it presents the certificate,
// if any, and verifies servers against TrustedCAFile (the system's roots
// when there is none), with AllowedCN or AllowedHostname if set. With
// AutoTLS and no CA bundle servers are not verified (self-signed on both
// sides: encrypted, not authenticated). A zero Info gives a client that
// verifies against the system's roots.
func (i Info) NewClient(nextProtos ...string) (*Client, error) {
	minV, maxV, suites, err := i.versionsAndSuites()
	if err != nil {
		return nil, err
	}
	c := &Client{minV: minV, maxV: maxV, suites: suites, nextProtos: nextProtos,
		v: verifier{usage: x509.ExtKeyUsageServerAuth, allowedCN: i.AllowedCN, allowedHost: i.AllowedHostname}}
	if i.HasCert() {
		if c.pair, err = newKeyPairFile(i.CertFile, i.KeyFile, i.OnReload); err != nil {
			return nil, err
		}
	}
	switch {
	case i.TrustedCAFile != "":
		if c.v.ca, err = newCAFile(i.TrustedCAFile, i.OnReload); err != nil {
			return nil, err
		}
	case i.AutoTLS:
		c.insecure = true
	}
	return c, nil
}

// Config returns the configuration for one connection to serverName, a
// host name or IP address the server's certificate must be valid for.
func (c *Client) Config(serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   c.minV,
		MaxVersion:   c.maxV,
		CipherSuites: c.suites,
		NextProtos:   c.nextProtos,
		ServerName:   serverName,
		// crypto/tls would verify against a bundle fixed in the config;
		// VerifyConnection verifies against the bundle as it is now.
		InsecureSkipVerify: true,
	}
	if c.pair != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.pair.get(), nil
		}
	}
	if !c.insecure {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return c.v.verify(cs, serverName, true) }
	}
	return cfg
}

// ClientConfig returns a configuration for gRPC's and net/http's dialers,
// which set ServerName on a copy of it for each connection: crypto/tls
// verifies the server against the CA bundle as it is now (the
// certificate presented is still read again when its files change), and
// VerifyConnection adds AllowedCN or AllowedHostname.
func (i Info) ClientConfig(nextProtos ...string) (*tls.Config, error) {
	c, err := i.NewClient(nextProtos...)
	if err != nil {
		return nil, err
	}
	cfg := c.Config("")
	cfg.InsecureSkipVerify = c.insecure
	cfg.VerifyConnection = nil
	if c.v.ca != nil {
		cfg.RootCAs = c.v.ca.get()
	}
	if c.v.allowedCN != "" || c.v.allowedHost != "" {
		v := c.v
		v.ca = nil
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return v.verifyAllowed(cs) }
	}
	return cfg, nil
}

// verifier checks the other side's certificate in VerifyConnection.
type verifier struct {
	ca          *caFile // nil: the system's roots
	usage       x509.ExtKeyUsage
	allowedCN   string
	allowedHost string
}

// verify checks the chain against the bundle as it is now and the key
// usage, the server's name when checkName, then the allowed CN or host.
func (v verifier) verify(cs tls.ConnectionState, serverName string, checkName bool) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no certificate presented", ErrVerify)
	}
	opts := x509.VerifyOptions{
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{v.usage},
	}
	if v.ca != nil {
		opts.Roots = v.ca.get()
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrVerify, leaf.Subject.CommonName, err)
	}
	if checkName {
		if err := leaf.VerifyHostname(serverName); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrVerify, leaf.Subject.CommonName, err)
		}
	}
	return v.verifyAllowed(cs)
}

// verifyAllowed checks the allowed CN or host name of a certificate
// already verified.
func (v verifier) verifyAllowed(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no certificate presented", ErrVerify)
	}
	leaf := cs.PeerCertificates[0]
	switch {
	case v.allowedCN != "" && leaf.Subject.CommonName != v.allowedCN:
		return fmt.Errorf("%w: common name %q is not the allowed %q", ErrVerify, leaf.Subject.CommonName, v.allowedCN)
	case v.allowedHost != "":
		if err := leaf.VerifyHostname(v.allowedHost); err != nil {
			return fmt.Errorf("%w: %q is not valid for the allowed host name %q: %w", ErrVerify, leaf.Subject.CommonName, v.allowedHost, err)
		}
	}
	return nil
}
