package fsync

import (
	"testing"

	"github.com/adrbench/adrbench/logbackends/conformance"
)

func TestConfigFlags(t *testing.T) {
	conformance.Flags(t, DefaultConfig(), []conformance.FlagCase[Config]{
		{Name: "defaults", Want: DefaultConfig()},
		{Name: "segment size", Args: []string{"--fsync-segment-size=1048576"}, Want: Config{SegmentSize: 1 << 20}},
		{Name: "zero segment size", Args: []string{"--fsync-segment-size=0"}, WantErr: "--fsync-segment-size"},
		{Name: "negative segment size", Args: []string{"--fsync-segment-size=-4096"}, WantErr: "--fsync-segment-size"},
	})
}
