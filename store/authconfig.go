package store

import (
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// tokenSimple and tokenJWT are the kinds of --auth-token.
const (
	tokenSimple = "simple"
	tokenJWT    = "jwt"
)

// jwtConfig returns the options of --auth-token jwt,...; ok is false for
// simple tokens.
func (c Config) jwtConfig() (o jwtOptions, ok bool, err error) {
	kind, opts, _ := strings.Cut(c.AuthToken, ",")
	if kind != tokenJWT {
		return o, false, nil
	}
	o, err = parseJWTOptions(opts)
	if err != nil {
		return o, true, configErr("--auth-token", "%v", err)
	}
	return o, true, nil
}

// validateAuth checks the auth flags: the token kind and its options, the
// simple tokens' lifetime and the bcrypt cost.
func (c Config) validateAuth() error {
	kind, _, _ := strings.Cut(c.AuthToken, ",")
	switch kind {
	case tokenSimple:
		if c.AuthToken != tokenSimple {
			return configErr("--auth-token", "simple takes no options, got %q", c.AuthToken)
		}
	case tokenJWT:
		if _, _, err := c.jwtConfig(); err != nil {
			return err
		}
	default:
		return configErr("--auth-token", "must be simple or jwt,pub-key=FILE,priv-key=FILE,sign-method=METHOD[,ttl=DURATION], got %q", c.AuthToken)
	}
	if c.AuthTokenTTL <= 0 {
		return configErr("--auth-token-ttl", "must be positive, got %v", c.AuthTokenTTL)
	}
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		return configErr("--bcrypt-cost", "must be from %d to %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c.BcryptCost)
	}
	return nil
}
