package async

import (
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/segment"
)

func TestConfigFlags(t *testing.T) {
	conformance.Flags(t, DefaultConfig(), []conformance.FlagCase[Config]{
		{Name: "defaults", Want: Config{SegmentSize: segment.DefaultSegmentSize, SyncInterval: DefaultSyncInterval}},
		{Name: "interval", Args: []string{"--async-sync-interval=1s"}, Want: Config{SegmentSize: segment.DefaultSegmentSize, SyncInterval: time.Second}},
		{Name: "zero interval", Args: []string{"--async-sync-interval=0s"}, WantErr: "--async-sync-interval"},
		{Name: "negative segment size", Args: []string{"--async-segment-size=-1"}, WantErr: "--async-segment-size"},
	})
}
