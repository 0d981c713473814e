package fsync

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
)

func TestConfigFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Config
		wantErr string // the flag the error must name; "" for none
	}{
		{name: "defaults", want: DefaultConfig()},
		{name: "segment size", args: []string{"--fsync-segment-size=1048576"}, want: Config{SegmentSize: 1 << 20}},
		{name: "zero segment size", args: []string{"--fsync-segment-size=0"}, wantErr: "--fsync-segment-size"},
		{name: "negative segment size", args: []string{"--fsync-segment-size=-4096"}, wantErr: "--fsync-segment-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
			cfg.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if tt.wantErr != "" {
				if !errors.Is(err, logbackends.ErrBadConfig) || !strings.HasPrefix(err.Error(), tt.wantErr+":") {
					t.Fatalf("Validate = %v, want ErrBadConfig naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || cfg != tt.want {
				t.Fatalf("config %+v, %v; want %+v", cfg, err, tt.want)
			}
		})
	}
}
