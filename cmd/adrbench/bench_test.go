package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/results"
)

func TestBenchWritesRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"bench", "--target=inproc", "--nodes=1", "--log-backend=memory",
		"--workload=put", "--clients=4", "--conns=2", "--total=200", "--key-size=8", "--val-size=64",
		"--heartbeat-interval=20", "--election-timeout=200", "--data-dir=" + t.TempDir(), "--out=" + out},
		&stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"Summary", "Requests/sec", "99.9% in", "Run written to " + out} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr is not a terminal, yet got %q", stderr.String())
	}
	r, err := results.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Points[0]
	if r.Name != "bench-put" || p.Ops != 200 || p.Errors != 0 || p.ValSize != 64 || p.Conns != 2 || p.Mode != "closed" {
		t.Errorf("run %s point %+v", r.Name, p)
	}
}

// TestBenchWorkloads runs the workloads that are more than one request per
// operation through the command, and a durable backend whose log figures
// the summary must show.
func TestBenchWorkloads(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, p results.Point)
		want  []string // in the summary
	}{
		{name: "watch", args: []string{"--workload=watch", "--watchers=5", "--log-backend=memory"},
			check: func(t *testing.T, p results.Point) {
				if p.Watchers != 5 || p.WatchPuts != 100 || p.Ops != 500 || p.WatchMissed != 0 || p.Errors != 0 {
					t.Errorf("watch point %+v", p)
				}
			},
			want: []string{"watch event deliveries", "Watch:\t100 puts delivered to 5 watchers, 0 missed, 0 duplicated", "Put latency"}},
		{name: "lease", args: []string{"--workload=lease", "--lease-ttl=2s", "--lease-revoke=1", "--log-backend=memory"},
			check: func(t *testing.T, p results.Point) {
				if p.Ops != 100 || p.Errors != 0 {
					t.Errorf("lease point %+v", p)
				}
			}},
		{name: "log stats", args: []string{"--workload=put", "--log-backend=batched"},
			check: func(t *testing.T, p results.Point) {
				if p.LogSyncs == 0 || p.LogEntriesSaved == 0 || p.LogSyncLatencyMs == nil {
					t.Errorf("log figures missing from %+v", p)
				}
			},
			want: []string{"Log syncs:", "entries/sync", "sync p50", "Log written:", "CPU:", "per 100k ops"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench", "--nodes=1", "--clients=4", "--conns=2", "--total=100",
				"--heartbeat-interval=20", "--election-timeout=200", "--data-dir=" + t.TempDir(), "--out=" + out}, tc.args...)
			if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("summary lacks %q:\n%s", want, stdout.String())
				}
			}
			r, err := results.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r.Points[0])
		})
	}
}

func TestBenchRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the one-line error
	}{
		{"unknown target", []string{"--target=cloud"}, "target"},
		{"unknown backend", []string{"--log-backend=nope"}, "--log-backend"},
		{"unknown backend on process", []string{"--target=process", "--log-backend=nope"}, "--log-backend"},
		{"unknown workload", []string{"--workload=scan-all"}, "workload"},
		{"total and duration", []string{"--total=10", "--duration=1s"}, "--total"},
		{"negative rate", []string{"--rate=-1"}, "--rate"},
		{"conns above clients", []string{"--clients=2", "--conns=3"}, "conns"},
		{"mixed without mix", []string{"--workload=mixed"}, "--mix"},
		{"mix without mixed", []string{"--mix=read=1"}, "--mix"},
		{"bad mix", []string{"--workload=mixed", "--mix=read"}, "--mix"},
		{"bad consistency", []string{"--consistency=x"}, "--consistency"},
		{"external without endpoints", []string{"--target=external"}, "endpoints"},
		{"unknown disk profile", []string{"--disk-profile=floppy"}, "--disk-profile"},
		{"disk profile on etcd", []string{"--target=etcd", "--disk-profile=hdd"}, "only implemented for targets"},
		{"key space too big", []string{"--key-size=2", "--key-space=1000"}, "key_space"},
		{"net loss on etcd", []string{"--target=etcd", "--net-loss=0.1"}, "net_loss"},
		{"net delay on external", []string{"--target=external", "--endpoints=127.0.0.1:1", "--net-delay=5ms"}, "target external"},
		{"bad flag", []string{"--clients=many"}, "clients"},
		{"watch without watchers", []string{"--workload=watch", "--watchers=0"}, "watchers"},
		{"watch values too small", []string{"--workload=watch", "--val-size=8"}, "val_size"},
		{"lease ttl in part seconds", []string{"--workload=lease", "--lease-ttl=1500ms"}, "--lease-ttl"},
		{"lease revoke share", []string{"--lease-revoke=2"}, "lease_revoke"},
		{"tls on inproc", []string{"--tls"}, "tls needs members on TCP"},
		{"tls on external without cacert", []string{"--target=external", "--endpoints=127.0.0.1:1", "--tls"}, "needs cacert"},
		{"cert without key", []string{"--target=external", "--endpoints=127.0.0.1:1", "--cacert=ca.pem", "--cert=c.pem"}, "cert and key go together"},
		{"cacert on process", []string{"--target=process", "--cacert=ca.pem"}, "cacert, cert and key are for target external"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"bench", "--out=" + filepath.Join(t.TempDir(), "r")}, tc.args...)
			if code := run(t.Context(), args, &stdout, &stderr); code == 0 {
				t.Fatal("exit 0, want failure")
			}
			line := stderr.String()
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, tc.want) {
				t.Errorf("stderr %q: want one line naming %q", line, tc.want)
			}
		})
	}
}

// TestBenchFlagTargets pins which targets each cluster flag's help names:
// the ones whose clusters use it (the help's parentheses).
func TestBenchFlagTargets(t *testing.T) {
	o := &benchOptions{backendNames: []string{"batched"}}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	o.AddFlags(fs)
	tests := []struct {
		name    string // the flag's
		targets string
	}{
		{name: "nodes", targets: "(inproc, process, etcd)"},
		{name: "log-backend", targets: "(inproc, process)"},
		{name: "endpoints", targets: "(external)"},
		{name: "etcd-binary", targets: "(etcd)"},
		{name: "data-dir", targets: "(inproc, process, etcd)"},
		{name: "net-delay", targets: "(inproc, process, etcd)"},
		{name: "net-jitter", targets: "(inproc, process, etcd)"},
		{name: "net-loss", targets: "(inproc)"},
		{name: "disk-profile", targets: "(inproc, process)"},
		{name: "heartbeat-interval", targets: "(inproc, process, etcd)"},
		{name: "election-timeout", targets: "(inproc, process, etcd)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fs.Lookup(tt.name)
			if f == nil {
				t.Fatalf("no flag --%s", tt.name)
			}
			if !strings.HasSuffix(f.Usage, " "+tt.targets) {
				t.Errorf("--%s help %q does not end with %s", tt.name, f.Usage, tt.targets)
			}
		})
	}
}
