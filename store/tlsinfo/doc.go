// Package tlsinfo turns etcd's TLS flags into crypto/tls configurations
// for a member's client port, its peer port and the connections it dials,
// with etcd's meanings:
//
//   - CertFile and KeyFile are the certificate this side presents: as a
//     server on its port, and as a client when it dials (a member dialling
//     a peer, the JSON gateway dialling its own gRPC server). A certificate
//     used for both must carry both the serverAuth and clientAuth extended
//     key usages, as etcd requires.
//   - TrustedCAFile is the bundle that verifies the other side's
//     certificate: clients' certificates when ClientCertAuth is set, and
//     the server's certificate when dialling.
//   - ClientCertAuth makes the server require a client certificate that
//     TrustedCAFile verifies. Unlike etcd, which then falls back on the
//     system's roots, it requires TrustedCAFile (Validate says so).
//   - AutoTLS generates a self-signed certificate for the hosts of the
//     listen URLs into a directory (SelfSign), kept across restarts. It
//     encrypts but authenticates nobody: a dialler accepts any certificate
//     from the other side, as etcd's clients do with
//     --insecure-skip-tls-verify. Given certificate files win over it.
//   - AllowedCN and AllowedHostname (etcd's --peer-cert-allowed-cn and
//     --peer-cert-allowed-hostname) additionally require the other side's
//     verified certificate to have that common name, or to be valid for
//     that host name, in both directions. They exclude each other.
//   - CipherSuites, MinVersion and MaxVersion restrict what is negotiated;
//     TLS 1.2 is the floor.
//
// # Reloading
//
// Certificates and CA bundles are read again when their files change, as
// etcd does: every handshake stats the files (a cheap system call) and
// rereads them when their modification time, size or inode moved, so a
// rotated certificate is presented from the next connection on, without a
// restart. A file caught half-written fails to parse; the previous
// certificate stays in use and the failure is reported to OnReload, and
// the next handshake tries again. For a server (ServerConfig) and a
// Client's per-connection Config, verification is done by this package
// in VerifyConnection against the bundle as it is at that handshake, not
// by crypto/tls against a bundle fixed in the tls.Config: the checks are
// the same (chain to a trusted root, key usage, the server's name when
// dialling, the name the Client was given, since an IP address is not in
// the ConnectionState), plus the allowed CN or host name. ClientConfig,
// for gRPC's and net/http's dialers, which name the server themselves,
// leaves verification to crypto/tls with the bundle read when it was
// made; only its certificate is reread.
package tlsinfo
