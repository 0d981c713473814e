package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const jwtDir = "testdata/jwt"

func jwtFile(name string) string { return filepath.Join(jwtDir, name) }

func mustJWT(t *testing.T, opts string) *jwtTokens {
	t.Helper()
	o, err := parseJWTOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := newJWTTokens(o)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestJWTKnownVectors verifies tokens another implementation signed:
// RFC 7515's HS256 example (A.1), and RS256, PS256, ES256 and EdDSA
// tokens signed by OpenSSL (testdata/jwt/gen.sh).
func TestJWTKnownVectors(t *testing.T) {
	t.Run("RFC 7515 A.1 HS256", func(t *testing.T) {
		key, err := b64.DecodeString("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "hmac")
		if err := os.WriteFile(path, key, 0o600); err != nil {
			t.Fatal(err)
		}
		tk := mustJWT(t, "priv-key="+path+",sign-method=HS256")
		in := "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
		sig, err := tk.signer([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := b64.EncodeToString(sig); got != "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" {
			t.Fatalf("HS256 signature %s", got)
		}
	})
	tests := []struct {
		name, opts string
	}{
		{"RS256", "pub-key=" + jwtFile("rsa.pub") + ",sign-method=RS256"},
		{"PS256", "pub-key=" + jwtFile("rsa.pub") + ",sign-method=PS256"},
		{"ES256", "pub-key=" + jwtFile("ec256.pub") + ",sign-method=ES256"},
		{"EdDSA", "pub-key=" + jwtFile("ed25519.pub") + ",sign-method=EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := mustJWT(t, tt.opts)
			tok, err := os.ReadFile(jwtFile(tt.name + ".token"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := tk.parse(strings.TrimSpace(string(tok)))
			if err != nil {
				t.Fatalf("OpenSSL's %s token: %v", tt.name, err)
			}
			if c.Username != "alice" || c.Revision != 3 {
				t.Fatalf("claims %+v", c)
			}
			if _, err := tk.sign("alice", 1); err == nil {
				t.Fatal("a member without priv-key signed a token")
			}
		})
	}
	t.Run("RS256 signature is OpenSSL's", func(t *testing.T) {
		// PKCS #1 v1.5 signatures are deterministic: ours of the same
		// input must be OpenSSL's, byte for byte.
		tk := mustJWT(t, "pub-key="+jwtFile("rsa.pub")+",priv-key="+jwtFile("rsa.key")+",sign-method=RS256")
		tok, err := os.ReadFile(jwtFile("RS256.token"))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(strings.TrimSpace(string(tok)), ".")
		sig, err := tk.signer([]byte(parts[0] + "." + parts[1]))
		if err != nil {
			t.Fatal(err)
		}
		if b64.EncodeToString(sig) != parts[2] {
			t.Fatal("our RS256 signature differs from OpenSSL's")
		}
	})
}

// TestJWTRoundTripAndRefusals signs and verifies with every method whose
// keys the test has, and checks the tokens a member must refuse.
func TestJWTRoundTripAndRefusals(t *testing.T) {
	hmacKey := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(hmacKey, []byte("a shared secret of some length"), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaOpts := "pub-key=" + jwtFile("rsa.pub") + ",priv-key=" + jwtFile("rsa.key")
	methods := map[string]string{
		"RS256": rsaOpts, "RS384": rsaOpts, "RS512": rsaOpts,
		"PS256": rsaOpts, "PS384": rsaOpts, "PS512": rsaOpts,
		"ES256": "pub-key=" + jwtFile("ec256.pub") + ",priv-key=" + jwtFile("ec256.key"),
		"EdDSA": "pub-key=" + jwtFile("ed25519.pub") + ",priv-key=" + jwtFile("ed25519.key"),
		"HS256": "priv-key=" + hmacKey, "HS384": "priv-key=" + hmacKey, "HS512": "priv-key=" + hmacKey,
	}
	for method, keys := range methods {
		t.Run(method, func(t *testing.T) {
			tk := mustJWT(t, keys+",sign-method="+method+",ttl=1m")
			now := time.Unix(2_000_000_000, 0)
			tk.now = func() time.Time { return now }
			tok, err := tk.sign("alice", 7)
			if err != nil {
				t.Fatal(err)
			}
			ai, ok := tk.info(context.Background(), tok, 9)
			if !ok || ai.user != "alice" || ai.rev != 7 {
				t.Fatalf("info %+v %v", ai, ok)
			}
			parts := strings.Split(tok, ".")
			sig, _ := b64.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			forged := parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)
			otherClaims := parts[0] + "." + b64.EncodeToString([]byte(`{"username":"root","revision":7,"exp":2000000060}`)) + "." + parts[2]
			cases := []struct {
				name, token string
				want        error
			}{
				{"bad signature", forged, errJWTSignature},
				{"claims changed", otherClaims, errJWTSignature},
				{"no signature", parts[0] + "." + parts[1] + ".", errJWTSignature},
				{"two parts", parts[0] + "." + parts[1], errJWTMalformed},
				{"alg none", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", errJWTMethod},
			}
			for _, c := range cases {
				if _, err := tk.parse(c.token); !errors.Is(err, c.want) {
					t.Fatalf("%s: %v, want %v", c.name, err, c.want)
				}
			}
			now = now.Add(time.Minute)
			if _, err := tk.parse(tok); !errors.Is(err, errJWTExpired) {
				t.Fatalf("a token at its expiry: %v", err)
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		rs := mustJWT(t, rsaOpts+",sign-method=RS256")
		tok, err := rs.sign("alice", 1)
		if err != nil {
			t.Fatal(err)
		}
		ps := mustJWT(t, rsaOpts+",sign-method=PS256")
		if _, err := ps.parse(tok); !errors.Is(err, errJWTMethod) {
			t.Fatalf("an RS256 token checked as PS256: %v", err)
		}
		// The public key used as an HMAC secret must not verify either.
		hs := mustJWT(t, "priv-key="+jwtFile("rsa.pub")+",sign-method=HS256")
		forged, err := hs.sign("root", 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.parse(forged); !errors.Is(err, errJWTMethod) {
			t.Fatalf("an HS256 token keyed with the public key: %v", err)
		}
	})
}

func TestJWTOptions(t *testing.T) {
	p384 := filepath.Join(t.TempDir(), "p384.pub")
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p384, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, opts, want string
	}{
		{"no method", "pub-key=" + jwtFile("rsa.pub"), "jwt needs sign-method"},
		{"unknown method", "pub-key=x,sign-method=RS1", `jwt sign-method "RS1" is not one of`},
		{"unknown option", "pub-key=x,sign-method=RS256,issuer=me", `unknown jwt option "issuer"`},
		{"not key=value", "pub-key", `jwt option "pub-key" is not key=value`},
		{"bad ttl", "pub-key=x,sign-method=RS256,ttl=soon", `jwt ttl "soon" is not a positive duration`},
		{"no pub-key", "priv-key=" + jwtFile("rsa.key") + ",sign-method=RS256", "jwt sign-method RS256 needs pub-key"},
		{"hmac without key", "pub-key=x,sign-method=HS256", "needs priv-key"},
		{"missing file", "pub-key=" + jwtFile("nope.pub") + ",sign-method=RS256", "no such file"},
		{"not PEM", "pub-key=" + jwtFile("RS256.token") + ",sign-method=RS256", "no PEM block"},
		{"key of another kind", "pub-key=" + jwtFile("ec256.pub") + ",sign-method=RS256", "does not fit sign-method RS256"},
		{"curve of another size", "pub-key=" + p384 + ",sign-method=ES256", "does not fit sign-method ES256"},
		{"private key of another kind", "pub-key=" + jwtFile("rsa.pub") + ",priv-key=" + jwtFile("ec256.key") + ",sign-method=RS256", "does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseJWTOptions(tt.opts)
			if err == nil {
				_, err = newJWTTokens(o)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%q: error %v, want one containing %q", tt.opts, err, tt.want)
			}
		})
	}
}
