package harness

import (
	"strings"
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/async"
	"github.com/adrbench/adrbench/logbackends/batched"
)

func TestUnsafeReason(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		backend  string
		backends *logbackends.Registry
		want     string // a part of the reason; "" for none
	}{
		{name: "durable backend", target: TargetInproc, backend: batched.Name, backends: testBackends()},
		{name: "backend that is not durable", target: TargetInproc, backend: async.Name, backends: testBackends(), want: "async is not durable: " + async.Saved},
		{name: "process members", target: TargetProcess, backend: async.Name, backends: testBackends(), want: "async is not durable"},
		{name: "backend missing from the registry", target: TargetProcess, backend: "tape", backends: testBackends(), want: "durability unknown"},
		{name: "no registry", target: TargetInproc, backend: batched.Name, want: "durability unknown"},
		{name: "real etcd is not ours to judge", target: TargetEtcd, backend: async.Name},
		{name: "an external cluster is not ours to judge", target: TargetExternal, backend: async.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unsafeReason(tt.target, tt.backend, tt.backends)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("unsafeReason = %q, want %q", got, tt.want)
			}
		})
	}
}
