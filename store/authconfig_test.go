package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateAuth(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // substring of the error; empty means valid
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "unknown token kind", mutate: func(c *Config) { c.AuthToken = "opaque" }, wantErr: `--auth-token: must be simple or jwt`},
		{name: "empty token kind", mutate: func(c *Config) { c.AuthToken = "" }, wantErr: `--auth-token: must be simple or jwt`},
		{name: "simple with options", mutate: func(c *Config) { c.AuthToken = "simple,ttl=5m" }, wantErr: "simple takes no options"},
		{name: "jwt", mutate: func(c *Config) { c.AuthToken = "jwt,pub-key=k.pub,priv-key=k,sign-method=RS256,ttl=10m" }},
		{name: "jwt without a method", mutate: func(c *Config) { c.AuthToken = "jwt,pub-key=k.pub" }, wantErr: "--auth-token: jwt needs sign-method"},
		{name: "zero ttl", mutate: func(c *Config) { c.AuthTokenTTL = 0 }, wantErr: "--auth-token-ttl: must be positive"},
		{name: "negative ttl", mutate: func(c *Config) { c.AuthTokenTTL = -time.Second }, wantErr: "--auth-token-ttl: must be positive"},
		{name: "bcrypt cost too low", mutate: func(c *Config) { c.BcryptCost = 3 }, wantErr: "--bcrypt-cost: must be from 4 to 31, got 3"},
		{name: "bcrypt cost too high", mutate: func(c *Config) { c.BcryptCost = 32 }, wantErr: "--bcrypt-cost: must be from 4 to 31, got 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.validateAuth()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validateAuth: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("validateAuth error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
