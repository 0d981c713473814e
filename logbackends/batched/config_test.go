package batched

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/segment"
)

func TestConfigFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Config
		wantErr string // the flag the error must name; "" for none
	}{
		{name: "defaults", want: DefaultConfig()},
		{name: "window", args: []string{"--batched-group-commit-window=250us"},
			want: Config{SegmentSize: segment.DefaultSegmentSize, GroupCommitWindow: 250 * time.Microsecond}},
		{name: "segment size", args: []string{"--batched-segment-size=65536"}, want: Config{SegmentSize: 64 << 10}},
		{name: "negative window", args: []string{"--batched-group-commit-window=-1ms"}, wantErr: "--batched-group-commit-window"},
		{name: "zero segment size", args: []string{"--batched-segment-size=0"}, wantErr: "--batched-segment-size"},
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
