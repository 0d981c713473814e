package harness

import (
	"testing"

	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/fsync"
	"github.com/adrbench/adrbench/results"
)

// TestBackendNamesInResults keeps the backend names the run schema's
// readers compare (results, which plots reads alone) equal to the names
// the backends register under.
func TestBackendNamesInResults(t *testing.T) {
	tests := []struct {
		name, results, backend string
	}{
		{"adr", results.BackendADR, adrlog.Name},
		{"batched", results.BackendBatched, batched.Name},
		{"fsync", results.BackendFsync, fsync.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.results != tt.backend {
				t.Fatalf("results calls the backend %q, it registers as %q", tt.results, tt.backend)
			}
		})
	}
}
