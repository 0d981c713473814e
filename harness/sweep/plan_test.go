package sweep

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/results"
)

func found(string) (string, error)   { return "/usr/bin/etcd", nil }
func missing(string) (string, error) { return "", exec.ErrNotFound }

func matrix() Config {
	c := DefaultConfig()
	c.Name = "m"
	c.Targets = []string{harness.TargetInproc, harness.TargetEtcd}
	c.Backends = []string{"fsync", "batched", "memory"}
	c.Nodes = []int{1, 3, 5}
	c.NetDelays = []time.Duration{0, time.Millisecond}
	c.DiskProfiles = []string{"native", "ssd-2015"}
	c.Clients = []Clients{{Clients: 10, Conns: 2}, {Clients: 100, Conns: 10}}
	c.Total, c.Duration = 0, time.Second
	return c
}

func TestExpand(t *testing.T) {
	backends := []string{"batched", "fsync", "memory"}
	withOpen := matrix()
	withOpen.OpenLoop = OpenLoop{Rates: []float64{2000, 500}, Clients: 50, Conns: 5, Nodes: []int{3}, Backends: []string{"batched"}, Duration: 3 * time.Second}
	withOpenSSD := withOpen
	withOpenSSD.OpenLoop.DiskProfiles = []string{"ssd-2015"}
	withTLS := matrix()
	withTLS.TLS = []bool{false, true}
	tests := []struct {
		name      string
		cfg       Config
		lookPath  func(string) (string, error)
		wantN     int
		wantNotes []string
	}{
		// inproc: 3 backends x 3 sizes x 2 delays x 2 disks x 2 client
		// counts = 72; etcd once per size and client count, native and
		// no delay only: 6.
		{"etcd installed", matrix(), found, 78, []string{"target etcd runs only at disk profile native"}},
		{"etcd missing", matrix(), missing, 72, []string{`target etcd skipped: the etcd binary "etcd" is not on PATH`}},
		// Open loop adds per delay and disk: inproc batched at n=3 and
		// etcd at n=3 (native, no delay only), 2 rates each: 4*2 + 2.
		{"open loop", withOpen, found, 78 + 10, nil},
		// Restricted to ssd-2015: inproc batched at n=3, both delays.
		{"open loop on one disk", withOpenSSD, found, 78 + 4, nil},
		// TLS doubles etcd's points; inproc runs without it only.
		{"tls axis", withTLS, found, 78 + 6, []string{"target inproc runs only without TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := Expand(tt.cfg, Env{Backends: backends, LookPath: tt.lookPath})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Points) != tt.wantN {
				t.Fatalf("%d points, want %d", len(plan.Points), tt.wantN)
			}
			for _, w := range tt.wantNotes {
				if !strings.Contains(strings.Join(plan.Notes, "\n"), w) {
					t.Errorf("notes %q lack %q", plan.Notes, w)
				}
			}
			keys := map[results.PointKey]bool{}
			for _, p := range plan.Points {
				if keys[p.Key] {
					t.Fatalf("key %v planned twice", p.Key)
				}
				keys[p.Key] = true
				b := p.Bench
				if b.Cluster.Target == harness.TargetEtcd && (b.Cluster.LogBackend != "" || b.Cluster.DiskProfile != "native" || b.Cluster.NetDelay != 0) {
					t.Fatalf("etcd point %s has a backend, disk or delay", p.Label)
				}
				if b.Run.Mode == results.ModeOpen && (b.Run.Duration != 3*time.Second || b.Run.Total != 0 || b.Conns != 5) {
					t.Fatalf("open point %s: %+v conns %d", p.Label, b.Run, b.Conns)
				}
			}
		})
	}
}

func TestExpandOpenRatesAscending(t *testing.T) {
	c := DefaultConfig()
	c.OpenLoop = OpenLoop{Rates: []float64{900, 100, 300}, Clients: 8, Conns: 2}
	plan, err := Expand(c, Env{Backends: []string{"batched"}})
	if err != nil {
		t.Fatal(err)
	}
	var rates []float64
	for _, p := range plan.Points {
		if p.Bench.Run.Mode == results.ModeOpen {
			rates = append(rates, p.Bench.Run.Rate)
		}
	}
	if len(rates) != 3 || rates[0] != 100 || rates[1] != 300 || rates[2] != 900 {
		t.Fatalf("open rates in order %v", rates)
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unknown backend", func(c *Config) { c.Backends = []string{"batched", "adr"} }, "backends[1]"},
		{"bad point", func(c *Config) { c.Targets = []string{harness.TargetExternal} }, "needs endpoints"},
		{"only etcd and it is missing", func(c *Config) { c.Targets = []string{harness.TargetEtcd} }, "no points left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			_, err := Expand(c, Env{Backends: []string{"batched"}, LookPath: missing})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
}

// TestPlannedKeyMatchesMeasured checks that a point reported the way
// harness.Bench reports one (fakePoint) has the key its plan expects, so a
// resumed sweep recognises it.
func TestPlannedKeyMatchesMeasured(t *testing.T) {
	c := matrix()
	c.OpenLoop = OpenLoop{Rates: []float64{250}, Clients: 10, Conns: 1}
	plan, err := Expand(c, Env{Backends: []string{"batched", "fsync", "memory"}, LookPath: found})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Points {
		pt := fakePoint(p.Bench)
		if got := pt.Key(); got != p.Key {
			t.Fatalf("measured key %v, planned %v", got, p.Key)
		}
	}
}

// Points with and without TLS have different keys and labels.
func TestExpandTLSKeys(t *testing.T) {
	c := DefaultConfig()
	c.Name = "tls"
	c.Targets = []string{harness.TargetEtcd}
	c.TLS = []bool{false, true}
	plan, err := Expand(c, Env{Backends: []string{"batched"}, LookPath: found})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Points) != 2 {
		t.Fatalf("%d points, want 2", len(plan.Points))
	}
	plain, secure := plan.Points[0], plan.Points[1]
	if plain.Key == secure.Key || plain.Key.TLS || !secure.Key.TLS || !secure.Bench.Cluster.TLS ||
		strings.Contains(plain.Label, "tls") || !strings.HasSuffix(secure.Label, " tls") {
		t.Fatalf("points %+v and %+v", plain, secure)
	}
}

// Target process runs the sweep's backends, with and without TLS.
func TestExpandProcessTLS(t *testing.T) {
	c := DefaultConfig()
	c.Name = "tls-cost"
	c.Targets = []string{harness.TargetProcess}
	c.Backends = []string{"batched"}
	c.TLS = []bool{false, true}
	plan, err := Expand(c, Env{Backends: []string{"batched"}, LookPath: found})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Points) != 2 {
		t.Fatalf("%d points, want 2", len(plan.Points))
	}
	for i, p := range plan.Points {
		if p.Bench.Cluster.LogBackend != "batched" || p.Bench.Cluster.TLS != (i == 1) || !strings.Contains(p.Label, "process batched") {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
}

// configs/tls-cost.yaml plans each target without and with TLS, side by
// side.
func TestTLSCostConfig(t *testing.T) {
	c, err := Load("../../configs/tls-cost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Expand(c, Env{Backends: []string{"batched"}, LookPath: found})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range plan.Points {
		got = append(got, p.Label)
	}
	want := []string{
		"process batched n=3 delay=0s disk=native c=64", "process batched n=3 delay=0s disk=native c=64 tls",
		"etcd n=3 delay=0s disk=native c=64", "etcd n=3 delay=0s disk=native c=64 tls",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("points:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
