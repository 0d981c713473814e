package store

import (
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// tokenSimple is --auth-token's value for etcd's default tokens.
const tokenSimple = "simple"

// validateAuth checks the auth flags: the token kind and its options, the
// simple tokens' lifetime and the bcrypt cost.
func (c Config) validateAuth() error {
	kind, _, _ := strings.Cut(c.AuthToken, ",")
	switch kind {
	case tokenSimple:
		if c.AuthToken != tokenSimple {
			return configErr("--auth-token", "simple takes no options, got %q", c.AuthToken)
		}
	default:
		return configErr("--auth-token", "must be simple, got %q", c.AuthToken)
	}
	if c.AuthTokenTTL <= 0 {
		return configErr("--auth-token-ttl", "must be positive, got %v", c.AuthTokenTTL)
	}
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		return configErr("--bcrypt-cost", "must be from %d to %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c.BcryptCost)
	}
	return nil
}
