package store

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"slices"

	"google.golang.org/grpc/credentials"

	"github.com/adrbench/adrbench/store/tlsinfo"
)

// resolveTLS makes the self-signed certificates --auto-tls and
// --peer-auto-tls ask for, in the data directory's fixtures/client and
// fixtures/peer as etcd keeps them, for the hosts of the port's URLs, and
// has certificate files that change and cannot be read again logged.
func resolveTLS(cfg Config, log *slog.Logger) (Config, error) {
	onReload := func(file string, err error) {
		log.Warn("a TLS file changed and cannot be read; the previous one stays in use", "file", file, "err", err)
	}
	sides := []struct {
		info *tlsinfo.Info
		dir  string
		flag string
		urls [][]string
	}{
		{&cfg.ClientTLS, "client", "--auto-tls", [][]string{cfg.ListenClientURLs, cfg.AdvertiseClientURLs}},
		{&cfg.PeerTLS, "peer", "--peer-auto-tls", [][]string{cfg.ListenPeerURLs, cfg.AdvertisePeerURLs}},
	}
	for _, side := range sides {
		side.info.OnReload = onReload
		if !side.info.AutoTLS || side.info.HasCert() {
			continue
		}
		var hosts []string
		for _, urls := range side.urls {
			for _, raw := range urls {
				if u, err := url.Parse(raw); err == nil && !slices.Contains(hosts, u.Hostname()) {
					hosts = append(hosts, u.Hostname())
				}
			}
		}
		resolved, err := tlsinfo.SelfSign(*side.info, filepath.Join(cfg.DataDir, "fixtures", side.dir), hosts)
		if err != nil {
			return cfg, configErr(side.flag, "%v", err)
		}
		*side.info = resolved
	}
	return cfg, nil
}

// clientServerTLS is the client port's TLS configuration, nil without
// client TLS. gRPC and the JSON gateway share the port and are told apart
// by their first bytes, so the protocol negotiated must match what the
// client will speak: a client that offers HTTP/1.1 (curl, browsers, Go's
// net/http) gets it and reaches the gateway; one that offers only h2
// (every gRPC client) gets h2.
func clientServerTLS(cfg Config) (*tls.Config, error) {
	if !cfg.ClientTLS.Enabled() {
		return nil, nil
	}
	base, err := cfg.ClientTLS.ServerConfig()
	if err != nil {
		return nil, tlsFlagErr("", err)
	}
	h1, h2 := base.Clone(), base.Clone()
	h1.NextProtos, h2.NextProtos = []string{"http/1.1"}, []string{"h2"}
	base.NextProtos = []string{"h2", "http/1.1"}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, "http/1.1") {
			return h1, nil
		}
		return h2, nil
	}
	return base, nil
}

// gatewayTLS is how the JSON gateway reaches the gRPC server on its own
// port: it presents the member's client certificate (needed with
// --client-cert-auth) and, like etcd's, does not verify the server,
// which is this very process at the address it just listened on.
func gatewayTLS(cfg Config) (*tls.Config, error) {
	if !cfg.ClientTLS.Enabled() {
		return nil, nil
	}
	c, err := cfg.ClientTLS.NewClient("h2")
	if err != nil {
		return nil, tlsFlagErr("", err)
	}
	tc := c.Config("")
	tc.InsecureSkipVerify, tc.VerifyConnection = true, nil
	return tc, nil
}

// memberClientTLS is how this member dials other members' client ports
// (lease forwarding, the corruption check): with their client TLS, nil
// without.
func memberClientTLS(cfg Config) (*tls.Config, error) {
	if !cfg.ClientTLS.Enabled() {
		return nil, nil
	}
	tc, err := cfg.ClientTLS.ClientConfig("h2")
	if err != nil {
		return nil, tlsFlagErr("", err)
	}
	return tc, nil
}

// peerTLS returns the peer transport's server configuration and its
// dialler's, both nil without peer TLS.
func peerTLS(cfg Config) (*tls.Config, func(host string) *tls.Config, error) {
	if !cfg.PeerTLS.Enabled() {
		return nil, nil, nil
	}
	srv, err := cfg.PeerTLS.ServerConfig()
	if err != nil {
		return nil, nil, tlsFlagErr("peer-", err)
	}
	cl, err := cfg.PeerTLS.NewClient()
	if err != nil {
		return nil, nil, tlsFlagErr("peer-", err)
	}
	return srv, cl.Config, nil
}

// warnPeerPort says at startup what reaching the peer port lets one do.
func warnPeerPort(cfg Config, log *slog.Logger) {
	switch {
	case !cfg.PeerTLS.Enabled():
		log.Warn("the peer port accepts raft messages from anyone who can reach it: without peer TLS, a member is known only by ids that every client response carries; set --peer-cert-file, --peer-key-file, --peer-trusted-ca-file and --peer-client-cert-auth",
			"listen-peer-urls", cfg.ListenPeerURLs[0])
	case !cfg.PeerTLS.ClientCertAuth:
		log.Warn("peer TLS encrypts but the peer port accepts raft messages from anyone who completes a TLS handshake: set --peer-client-cert-auth and --peer-trusted-ca-file to require the members' certificates",
			"listen-peer-urls", cfg.ListenPeerURLs[0])
	}
}

// listenTLS listens on the host of a URL, with TLS when tc is set.
func listenTLS(flag, raw string, tc *tls.Config) (net.Listener, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// terminatedTLS is the gRPC server's transport security when the client
// port's listener has already done the TLS handshake (the port serves gRPC
// and HTTP on one TLS listener and tells them apart after it). It passes
// connections through and reports each one's TLS state as gRPC's own TLS
// credentials would, so that a request's handler sees the client's
// verified certificate (its common name is the request's user when
// authentication and client certificates are both on, as in etcd).
type terminatedTLS struct{}

func (terminatedTLS) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	inner := c
	if pc, ok := c.(*peekedConn); ok {
		inner = pc.Conn
	}
	tc, ok := inner.(*tls.Conn)
	if !ok {
		return nil, nil, fmt.Errorf("client port: a connection without TLS reached the gRPC server of a TLS port")
	}
	return c, credentials.TLSInfo{
		State:          tc.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (terminatedTLS) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, fmt.Errorf("client port: terminatedTLS secures the server side only")
}

func (terminatedTLS) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (t terminatedTLS) Clone() credentials.TransportCredentials { return t }

func (terminatedTLS) OverrideServerName(string) error { return nil }
