package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/store"
)

func TestServeAuthFlags(t *testing.T) {
	t.Run("defaults are etcd's", func(t *testing.T) {
		o := optionsFor(t, nil)
		if o.cfg.AuthToken != "simple" || o.cfg.AuthTokenTTL != 300*time.Second || o.cfg.BcryptCost != 10 {
			t.Fatalf("auth defaults: %q %v %d", o.cfg.AuthToken, o.cfg.AuthTokenTTL, o.cfg.BcryptCost)
		}
	})
	t.Run("set", func(t *testing.T) {
		o := optionsFor(t, []string{"--auth-token=simple", "--auth-token-ttl=60", "--bcrypt-cost=4"})
		want := store.DefaultConfig()
		want.AuthTokenTTL, want.BcryptCost = time.Minute, 4
		if !reflect.DeepEqual(o.cfg, want) {
			t.Fatalf("config\n got %+v\nwant %+v", o.cfg, want)
		}
	})
	rejects := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown token kind", args: []string{"--auth-token=opaque"}, want: `--auth-token: must be simple or jwt,pub-key=FILE,priv-key=FILE,sign-method=METHOD[,ttl=DURATION], got "opaque"`},
		{name: "zero ttl", args: []string{"--auth-token-ttl=0"}, want: "--auth-token-ttl: must be positive"},
		{name: "bcrypt cost out of range", args: []string{"--bcrypt-cost=40"}, want: "--bcrypt-cost: must be from 4 to 31, got 40"},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			o := &serveOptions{backends: catalog.DefaultConfigs()}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, store.ErrInvalidConfig) {
				t.Fatalf("serve %q: error %v, want one containing %q", tt.args, err, tt.want)
			}
		})
	}
}
