package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/store"
)

// authFlags are etcd's authentication flags of serve.
type authFlags struct {
	token      string
	ttlSeconds uint
	bcryptCost uint
}

func (a *authFlags) AddFlags(fs *pflag.FlagSet, d store.Config) {
	fs.StringVar(&a.token, "auth-token", d.AuthToken, `kind of the tokens Authenticate hands out: "simple" (random tokens every member keeps, renewed on use) or "jwt,pub-key=FILE,priv-key=FILE,sign-method=METHOD[,ttl=DURATION]" (signed tokens; METHOD: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384, HS512, EdDSA)`)
	fs.UintVar(&a.ttlSeconds, "auth-token-ttl", uint(d.AuthTokenTTL/time.Second), "time (in seconds) a simple token lives after its last use")
	fs.UintVar(&a.bcryptCost, "bcrypt-cost", uint(d.BcryptCost), "cost of the bcrypt hashes of users' passwords (4 to 31)")
}

// apply puts the flags into cfg; cfg.Validate checks them.
func (a *authFlags) apply(cfg *store.Config) {
	cfg.AuthToken = a.token
	cfg.AuthTokenTTL = time.Duration(a.ttlSeconds) * time.Second
	cfg.BcryptCost = int(min(a.bcryptCost, 1<<16))
}
