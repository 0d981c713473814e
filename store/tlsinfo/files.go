package tlsinfo

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"sync"
	"syscall"
	"time"
)

// fileStamp is what tells a file changed: a rotation that renames a new
// file into place changes the inode, an edit in place the size or time.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return nil, fieldErr("cert-file", "%v", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return nil, fieldErr("key-file", "%v", err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fieldErr("cert-file", "%s with key-file %s: %v", certFile, keyFile, err)
	}
	return &pair, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fieldErr("trusted-ca-file", "%v", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fieldErr("trusted-ca-file", "%s: certificate %d: %v", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fieldErr("trusted-ca-file", "%s holds no PEM certificate", path)
	}
	return pool, nil
}

// keyPairFile is a certificate and key read again when either file
// changes.
type keyPairFile struct {
	certFile, keyFile string
	onErr             func(string, error)

	mu     sync.Mutex
	stamps [2]fileStamp
	pair   *tls.Certificate
}

func newKeyPairFile(certFile, keyFile string, onErr func(string, error)) (*keyPairFile, error) {
	k := &keyPairFile{certFile: certFile, keyFile: keyFile, onErr: onErr}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyPairFile) stampsNow() ([2]fileStamp, error) {
	var s [2]fileStamp
	var err error
	if s[0], err = stampOf(k.certFile); err != nil {
		return s, err
	}
	s[1], err = stampOf(k.keyFile)
	return s, err
}

func (k *keyPairFile) reload() error {
	stamps, err := k.stampsNow()
	if err != nil {
		return fieldErr("cert-file", "%v", err)
	}
	pair, err := loadKeyPair(k.certFile, k.keyFile)
	if err != nil {
		return err
	}
	k.stamps, k.pair = stamps, pair
	return nil
}

// get returns the current certificate, read again first if its files
// changed; when they cannot be read, the previous one.
func (k *keyPairFile) get() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	if stamps, err := k.stampsNow(); err == nil && stamps == k.stamps {
		return k.pair
	}
	if err := k.reload(); err != nil && k.onErr != nil {
		k.onErr(k.certFile, err)
	}
	return k.pair
}

// caFile is a CA bundle read again when its file changes.
type caFile struct {
	path  string
	onErr func(string, error)

	mu    sync.Mutex
	stamp fileStamp
	pool  *x509.CertPool
}

func newCAFile(path string, onErr func(string, error)) (*caFile, error) {
	c := &caFile{path: path, onErr: onErr}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *caFile) reload() error {
	stamp, err := stampOf(c.path)
	if err != nil {
		return fieldErr("trusted-ca-file", "%v", err)
	}
	pool, err := loadPool(c.path)
	if err != nil {
		return err
	}
	c.stamp, c.pool = stamp, pool
	return nil
}

// get returns the current bundle, read again first if its file changed;
// when it cannot be read, the previous one.
func (c *caFile) get() *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp, err := stampOf(c.path); err == nil && stamp == c.stamp {
		return c.pool
	}
	if err := c.reload(); err != nil && c.onErr != nil {
		c.onErr(c.path, err)
	}
	return c.pool
}
