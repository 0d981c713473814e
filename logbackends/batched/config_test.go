package batched

import (
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/segment"
)

func TestConfigFlags(t *testing.T) {
	conformance.Flags(t, DefaultConfig(), []conformance.FlagCase[Config]{
		{Name: "defaults", Want: DefaultConfig()},
		{Name: "window", Args: []string{"--batched-group-commit-window=250us"},
			Want: Config{SegmentSize: segment.DefaultSegmentSize, GroupCommitWindow: 250 * time.Microsecond}},
		{Name: "segment size", Args: []string{"--batched-segment-size=65536"}, Want: Config{SegmentSize: 64 << 10}},
		{Name: "negative window", Args: []string{"--batched-group-commit-window=-1ms"}, WantErr: "--batched-group-commit-window"},
		{Name: "zero segment size", Args: []string{"--batched-segment-size=0"}, WantErr: "--batched-segment-size"},
	})
}
