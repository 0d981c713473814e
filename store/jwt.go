package store

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"
)

// jwtOptions are the options of --auth-token jwt,..., as etcd names them.
type jwtOptions struct {
	pubKey, privKey string // PEM files
	method          string // the JWS "alg"
	ttl             time.Duration
}

// jwtMethods are the sign methods etcd accepts, by JWS name.
var jwtMethods = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "EdDSA",
}

// parseJWTOptions parses what follows "jwt," in --auth-token.
func parseJWTOptions(s string) (jwtOptions, error) {
	o := jwtOptions{ttl: 5 * time.Minute}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return o, fmt.Errorf("jwt option %q is not key=value", kv)
		}
		switch k {
		case "pub-key":
			o.pubKey = v
		case "priv-key":
			o.privKey = v
		case "sign-method":
			if !slices.Contains(jwtMethods, v) {
				return o, fmt.Errorf("jwt sign-method %q is not one of %s", v, strings.Join(jwtMethods, ", "))
			}
			o.method = v
		case "ttl":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("jwt ttl %q is not a positive duration", v)
			}
			o.ttl = d
		default:
			return o, fmt.Errorf("unknown jwt option %q (known: pub-key, priv-key, sign-method, ttl)", k)
		}
	}
	switch {
	case o.method == "":
		return o, errors.New("jwt needs sign-method")
	case strings.HasPrefix(o.method, "HS") && o.privKey == "":
		return o, fmt.Errorf("jwt sign-method %s needs priv-key, the file holding the HMAC key", o.method)
	case !strings.HasPrefix(o.method, "HS") && o.pubKey == "":
		return o, fmt.Errorf("jwt sign-method %s needs pub-key", o.method)
	}
	return o, nil
}

// jwtTokens are signed tokens: a JWS whose claims are etcd's (username,
// revision, exp), checked by signature on any member with the public key.
// Nothing is kept per token, so a signed token cannot be revoked: it
// carries the auth revision it was made at, and once the auth store has
// changed it is refused with ErrAuthOldRevision until the client
// authenticates again.
type jwtTokens struct {
	method string
	ttl    time.Duration
	now    func() time.Time
	// signer is nil on a member given only the public key: it verifies
	// tokens but cannot hand them out.
	signer   func(in []byte) ([]byte, error)
	verifier func(in, sig []byte) bool
}

// jwtClaims are the claims etcd puts in its tokens.
type jwtClaims struct {
	Username string `json:"username"`
	Revision uint64 `json:"revision"`
	Exp      int64  `json:"exp"`
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
}

var b64 = base64.RawURLEncoding

// newJWTTokens loads the keys the options name and builds the method's
// signer and verifier.
func newJWTTokens(o jwtOptions) (*jwtTokens, error) {
	t := &jwtTokens{method: o.method, ttl: o.ttl, now: time.Now}
	var err error
	if strings.HasPrefix(o.method, "HS") {
		key, rerr := os.ReadFile(o.privKey)
		if rerr != nil {
			return nil, fmt.Errorf("jwt priv-key: %w", rerr)
		}
		h := jwtHash(o.method)
		t.signer = func(in []byte) ([]byte, error) {
			m := hmac.New(h.New, key)
			m.Write(in)
			return m.Sum(nil), nil
		}
		t.verifier = func(in, sig []byte) bool {
			want, _ := t.signer(in)
			return hmac.Equal(sig, want)
		}
		return t, nil
	}
	pub, err := readPEM(o.pubKey, "pub-key", parsePublicKey)
	if err != nil {
		return nil, err
	}
	if t.verifier, err = jwtVerifier(o.method, pub); err != nil {
		return nil, fmt.Errorf("jwt pub-key %s: %w", o.pubKey, err)
	}
	if o.privKey != "" {
		priv, err := readPEM(o.privKey, "priv-key", parsePrivateKey)
		if err != nil {
			return nil, err
		}
		if t.signer, err = jwtSigner(o.method, priv); err != nil {
			return nil, fmt.Errorf("jwt priv-key %s: %w", o.privKey, err)
		}
	}
	return t, nil
}

func jwtHash(method string) crypto.Hash {
	switch method[len(method)-3:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, in []byte) []byte {
	var hh hash.Hash
	switch h {
	case crypto.SHA384:
		hh = sha512.New384()
	case crypto.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write(in)
	return hh.Sum(nil)
}

// ecCurve is the curve each ES method signs on, as JWS fixes it.
func ecCurve(method string) elliptic.Curve {
	switch method {
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	}
	return elliptic.P256()
}

func jwtVerifier(method string, pub any) (func(in, sig []byte) bool, error) {
	h := jwtHash(method)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch method[:2] {
		case "RS":
			return func(in, sig []byte) bool { return rsa.VerifyPKCS1v15(k, h, digest(h, in), sig) == nil }, nil
		case "PS":
			return func(in, sig []byte) bool {
				return rsa.VerifyPSS(k, h, digest(h, in), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
			}, nil
		}
	case *ecdsa.PublicKey:
		if method[:2] == "ES" && k.Curve == ecCurve(method) {
			size := (k.Curve.Params().BitSize + 7) / 8
			return func(in, sig []byte) bool {
				if len(sig) != 2*size {
					return false
				}
				r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
				return ecdsa.Verify(k, digest(h, in), r, s)
			}, nil
		}
	case ed25519.PublicKey:
		if method == "EdDSA" {
			return func(in, sig []byte) bool { return ed25519.Verify(k, in, sig) }, nil
		}
	}
	return nil, fmt.Errorf("a %T does not fit sign-method %s", pub, method)
}

func jwtSigner(method string, priv any) (func(in []byte) ([]byte, error), error) {
	h := jwtHash(method)
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		switch method[:2] {
		case "RS":
			return func(in []byte) ([]byte, error) { return rsa.SignPKCS1v15(rand.Reader, k, h, digest(h, in)) }, nil
		case "PS":
			return func(in []byte) ([]byte, error) {
				return rsa.SignPSS(rand.Reader, k, h, digest(h, in), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			}, nil
		}
	case *ecdsa.PrivateKey:
		if method[:2] == "ES" && k.Curve == ecCurve(method) {
			size := (k.Curve.Params().BitSize + 7) / 8
			return func(in []byte) ([]byte, error) {
				r, s, err := ecdsa.Sign(rand.Reader, k, digest(h, in))
				if err != nil {
					return nil, err
				}
				sig := make([]byte, 2*size)
				r.FillBytes(sig[:size])
				s.FillBytes(sig[size:])
				return sig, nil
			}, nil
		}
	case ed25519.PrivateKey:
		if method == "EdDSA" {
			return func(in []byte) ([]byte, error) { return ed25519.Sign(k, in), nil }, nil
		}
	}
	return nil, fmt.Errorf("a %T does not fit sign-method %s", priv, method)
}

func readPEM(path, option string, parse func(*pem.Block) (any, error)) (any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt %s: %w", option, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("jwt %s %s: no PEM block", option, path)
	}
	key, err := parse(block)
	if err != nil {
		return nil, fmt.Errorf("jwt %s %s: %w", option, path, err)
	}
	return key, nil
}

func parsePublicKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key", b.Type)
}

func parsePrivateKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", b.Type)
}

func (t *jwtTokens) simple() bool { return false }

// sign makes a token for user at auth revision rev, valid for the ttl.
func (t *jwtTokens) sign(user string, rev uint64) (string, error) {
	if t.signer == nil {
		return "", errors.New("jwt: this member has no priv-key and cannot sign tokens")
	}
	hdr, err := json.Marshal(jwtHeader{Alg: t.method, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(jwtClaims{Username: user, Revision: rev, Exp: t.now().Add(t.ttl).Unix()})
	if err != nil {
		return "", err
	}
	in := b64.EncodeToString(hdr) + "." + b64.EncodeToString(claims)
	sig, err := t.signer([]byte(in))
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return in + "." + b64.EncodeToString(sig), nil
}

// info checks a token's method, signature and expiry, and returns the
// user and auth revision it carries.
func (t *jwtTokens) info(_ context.Context, token string, _ uint64) (authInfo, bool) {
	c, err := t.parse(token)
	if err != nil {
		return authInfo{}, false
	}
	return authInfo{user: c.Username, rev: c.Revision}, true
}

// Errors of a token that does not check out, for tests and logs; clients
// see ErrGRPCInvalidAuthToken for all of them.
var (
	errJWTMalformed = errors.New("jwt: malformed token")
	errJWTMethod    = errors.New("jwt: token signed with another method")
	errJWTSignature = errors.New("jwt: bad signature")
	errJWTExpired   = errors.New("jwt: token expired")
)

func (t *jwtTokens) parse(token string) (jwtClaims, error) {
	var c jwtClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errJWTMalformed
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return c, fmt.Errorf("%w: %v", errJWTMalformed, err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return c, fmt.Errorf("%w: header: %v", errJWTMalformed, err)
	}
	// The method is the member's, never the token's: a token may not
	// choose how it is checked ("none", or an HMAC keyed with the public
	// key).
	if h.Alg != t.method {
		return c, fmt.Errorf("%w: %q, want %s", errJWTMethod, h.Alg, t.method)
	}
	if !t.verifier([]byte(parts[0]+"."+parts[1]), sig) {
		return c, errJWTSignature
	}
	dec := json.NewDecoder(bytes.NewReader(cb))
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%w: claims: %v", errJWTMalformed, err)
	}
	if c.Exp == 0 || !t.now().Before(time.Unix(c.Exp, 0)) {
		return c, errJWTExpired
	}
	return c, nil
}
