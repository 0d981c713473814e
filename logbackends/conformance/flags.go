package conformance

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
)

// FlagCase is one command line for Flags: the backend's flags as a user
// gives them, and the Config they must give, or the flag the error must
// name.
type FlagCase[C any] struct {
	Name string
	Args []string
	// Want is the Config the arguments give, over the defaults.
	Want C
	// WantErr, when set, is what Validate's error must start with (the
	// flag, or flags, at fault); Want is then not looked at.
	WantErr string
	// Is, when set, is a sentinel the error must wrap besides
	// logbackends.ErrBadConfig.
	Is error
}

// Flags checks a backend's settings as every backend must keep them:
// AddFlags binds each to a flag with the default's value as its default,
// and Validate names the bad flag first thing in its error, wrapping
// logbackends.ErrBadConfig. def is the backend's DefaultConfig.
func Flags[C any, P interface {
	*C
	AddFlags(*pflag.FlagSet)
	Validate() error
}](t *testing.T, def C, cases []FlagCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cfg := def
			fs := pflag.NewFlagSet(tc.Name, pflag.ContinueOnError)
			P(&cfg).AddFlags(fs)
			if err := fs.Parse(tc.Args); err != nil {
				t.Fatal(err)
			}
			err := P(&cfg).Validate()
			if tc.WantErr != "" {
				if !errors.Is(err, logbackends.ErrBadConfig) || !strings.HasPrefix(err.Error(), tc.WantErr+":") ||
					(tc.Is != nil && !errors.Is(err, tc.Is)) {
					t.Fatalf("Validate = %v, want a bad-setting error starting %q", err, tc.WantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(cfg, tc.Want) {
				t.Fatalf("config %+v, %v; want %+v", cfg, err, tc.Want)
			}
		})
	}
}
