package batched

import (
	"errors"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.CrashSafe, Segments: true, Open: Open})
}

func TestGroupCommitWindowRejected(t *testing.T) {
	opts := logbackends.DefaultOptions("/log")
	opts.FS, opts.GroupCommitWindow = vfs.NewMem(), time.Millisecond
	if _, err := Open(opts); !errors.Is(err, ErrGroupCommitUnsupported) {
		t.Fatalf("Open = %v, want ErrGroupCommitUnsupported", err)
	}
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, Open) }
