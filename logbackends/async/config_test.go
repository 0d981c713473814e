package async

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
		{name: "defaults", want: Config{SegmentSize: segment.DefaultSegmentSize, SyncInterval: DefaultSyncInterval}},
		{name: "interval", args: []string{"--async-sync-interval=1s"}, want: Config{SegmentSize: segment.DefaultSegmentSize, SyncInterval: time.Second}},
		{name: "zero interval", args: []string{"--async-sync-interval=0s"}, wantErr: "--async-sync-interval"},
		{name: "negative segment size", args: []string{"--async-segment-size=-1"}, wantErr: "--async-segment-size"},
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
