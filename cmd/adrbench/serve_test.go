package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/store"
)

// TestServeRejects runs the serve command in process with bad flags; each
// must fail before anything starts, with one line naming what is wrong.
func TestServeRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Ports nobody listens on: every case must fail before binding them.
	base := []string{"serve", "--data-dir=" + filepath.Join(dir, "data"),
		"--listen-client-urls=http://127.0.0.1:1", "--advertise-client-urls=http://127.0.0.1:1",
		"--listen-peer-urls=http://127.0.0.1:2", "--initial-advertise-peer-urls=http://127.0.0.1:2"}
	tests := []struct {
		name string
		args []string
		want string
		is   error
	}{
		{name: "unknown log backend", args: []string{"--log-backend=nope"}, want: `--log-backend: unknown log backend "nope" (known: adr, async, batched, fsync, memory)`, is: logbackends.ErrUnknownBackend},
		{name: "member without URL", args: []string{"--initial-cluster=default=http://127.0.0.1:2,infra9="}, want: `--initial-cluster: member "infra9" has no URL`, is: store.ErrInvalidConfig},
		{name: "member not in cluster", args: []string{"--name=m9", "--initial-cluster=m0=http://127.0.0.1:2"}, want: "--initial-cluster: does not list this member (--name=m9)", is: store.ErrInvalidConfig},
		{name: "advertise does not match", args: []string{"--initial-cluster=default=http://127.0.0.1:3"}, want: "--initial-advertise-peer-urls: http://127.0.0.1:2 does not match", is: store.ErrInvalidConfig},
		{name: "bad client URL", args: []string{"--listen-client-urls=127.0.0.1:2379"}, want: `--listen-client-urls: URL "127.0.0.1:2379": must be http://host:port`, is: store.ErrInvalidConfig},
		{name: "empty URL in list", args: []string{"--listen-client-urls=http://127.0.0.1:1,"}, want: "--listen-client-urls:", is: store.ErrInvalidConfig},
		{name: "election under 5 heartbeats", args: []string{"--heartbeat-interval=100", "--election-timeout=400"}, want: "--election-timeout: 400ms must be at least 5 times --heartbeat-interval (100ms)", is: store.ErrInvalidConfig},
		{name: "bad cluster state", args: []string{"--initial-cluster-state=joining"}, want: "--initial-cluster-state: must be new or existing", is: store.ErrInvalidConfig},
		{name: "existing without data", args: []string{"--initial-cluster-state=existing"}, want: "--initial-cluster-state: existing needs the data dir", is: store.ErrInvalidConfig},
		{name: "zero snapshot count", args: []string{"--snapshot-count=0"}, want: "--snapshot-count: must be positive", is: store.ErrInvalidConfig},
		{name: "zero quota", args: []string{"--quota-backend-bytes=0"}, want: "--quota-backend-bytes: must be positive", is: store.ErrInvalidConfig},
		{name: "negative corrupt check time", args: []string{"--experimental-corrupt-check-time=-1s"}, want: "--experimental-corrupt-check-time: must not be negative, got -1s", is: store.ErrInvalidConfig},
		{name: "bad log level", args: []string{"--log-level=loud"}, want: `--log-level: "loud" is not one of`},
		{name: "bad adr region size", args: []string{"--log-backend=adr", "--adr-region-size=5000"},
			want: "--adr-region-kind, --adr-region-path, --adr-region-size, --adr-media-latency: bad log backend setting: adr: bad region configuration: size: 5000 is not a multiple of 4096", is: logbackends.ErrBadConfig},
		{name: "async without the opt-in", args: []string{"--log-backend=async"},
			want: "--log-backend async: log backend is not durable (accepted, synced later", is: errNondurable},
		{name: "memory without the opt-in", args: []string{"--log-backend=memory"},
			want: "a crash can lose acknowledged writes; pass --unsafe-allow-nondurable to run it anyway", is: errNondurable},
		{name: "negative ring-full timeout", args: []string{"--log-backend=adr", "--adr-ring-full-timeout=-1s"},
			want: "--adr-ring-full-timeout: bad log backend setting: -1s is negative", is: logbackends.ErrBadConfig},
		{name: "negative group commit window", args: []string{"--batched-group-commit-window=-1ms"},
			want: "--batched-group-commit-window: bad log backend setting: -1ms is negative", is: logbackends.ErrBadConfig},
		{name: "data dir under a file", args: []string{"--data-dir=" + filepath.Join(file, "data")}, want: "--data-dir: data dir is not writable: " + filepath.Join(file, "data"), is: errDataDir},
		{name: "not a number", args: []string{"--heartbeat-interval=fast"}, want: `invalid argument "fast" for "--heartbeat-interval"`},
		{name: "unknown flag", args: []string{"--listen-metrics-urls=http://127.0.0.1:3"}, want: "unknown flag: --listen-metrics-urls"},
		{name: "positional argument", args: []string{"extra"}, want: `unknown command "extra" for "adrbench serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd(catalog.DefaultConfigs())
			var stdout, stderr bytes.Buffer
			root.SetArgs(append(append([]string{}, base...), tt.args...))
			root.SetOut(&stdout)
			root.SetErr(&stderr)
			err := root.ExecuteContext(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("serve %q: error %v, want one containing %q", tt.args, err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("serve %q: error %v does not wrap %v", tt.args, err, tt.is)
			}
			if stdout.Len() != 0 || strings.Contains(stderr.String(), "Usage:") {
				t.Fatalf("serve %q printed usage or output:\nstdout: %s\nstderr: %s", tt.args, &stdout, &stderr)
			}
		})
	}
}

// TestRunPrintsOneLine checks the exit code and the single error line main
// prints.
func TestRunPrintsOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--log-backend=nope", "--data-dir=" + t.TempDir()}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := `adrbench: --log-backend: unknown log backend "nope" (known: adr, async, batched, fsync, memory)` + "\n"
	if stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), want)
	}
	if code := run(t.Context(), []string{"serve", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit code %d", code)
	}
	for _, flag := range []string{"--initial-cluster-state", "--log-backend", "async, batched, fsync, memory", `unsafe, as not durable, refused without --unsafe-allow-nondurable: "async": `, `"memory": `,
		"--heartbeat-interval", "--max-txn-ops", "--adr-region-kind", "--adr-region-path", "--adr-region-size", "--adr-media-latency", "--batched-group-commit-window", "--async-sync-interval", "--adr-region-reset", "--adr-ring-full-timeout",
		"--experimental-initial-corrupt-check", "--experimental-corrupt-check-time",
		"--cert-file", "--key-file", "--trusted-ca-file", "--client-cert-auth", "--auto-tls", "--peer-cert-file", "--peer-key-file",
		"--peer-trusted-ca-file", "--peer-client-cert-auth", "--peer-auto-tls", "--peer-cert-allowed-cn", "--peer-cert-allowed-hostname",
		"--cipher-suites", "--tls-min-version", "--tls-max-version"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("serve --help does not mention %s", flag)
		}
	}
}

// TestServeDefaults checks that no flags mean store.DefaultConfig, and that
// --name alone makes a one-member cluster of that name, as in etcd.
func TestServeDefaults(t *testing.T) {
	tests := []struct {
		name string
		args []string
		edit func(c *store.Config)
	}{
		{name: "no flags", edit: func(c *store.Config) {}},
		{name: "name only", args: []string{"--name=solo"}, edit: func(c *store.Config) {
			c.Name = "solo"
			c.InitialCluster = []store.Member{{Name: "solo", PeerURLs: []string{"http://127.0.0.1:2380"}}}
		}},
		{name: "etcd units", args: []string{"--heartbeat-interval=50", "--election-timeout=500", "--max-request-bytes=1024", "--max-txn-ops=8", "--log-backend=memory", "--unsafe-allow-nondurable"}, edit: func(c *store.Config) {
			c.HeartbeatInterval = 50 * time.Millisecond
			c.ElectionTimeout = 500 * time.Millisecond
			c.MaxRequestBytes = 1024
			c.MaxTxnOps = 8
			c.LogBackend = "memory"
		}},
		{name: "test-only stale reads", args: []string{"--unsafe-test-stale-reads"}, edit: func(c *store.Config) {
			c.UnsafeStaleReads = true
		}},
		{name: "corruption checks", args: []string{"--experimental-initial-corrupt-check", "--experimental-corrupt-check-time=2m"}, edit: func(c *store.Config) {
			c.InitialCorruptCheck = true
			c.CorruptCheckTime = 2 * time.Minute
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := optionsFor(t, tt.args)
			want := store.DefaultConfig()
			tt.edit(&want)
			if !reflect.DeepEqual(o.cfg, want) {
				t.Fatalf("config\n got %+v\nwant %+v", o.cfg, want)
			}
		})
	}
}

// TestServeStartupWarnings checks the WARN lines serve logs before the
// member starts: one for each setting that is not durable or is
// emulated, naming the flag; none for a durable backend on a real disk.
// (The adr backend's lines about its region come from the backend.)
func TestServeStartupWarnings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // one line each, a part of it
	}{
		{name: "durable on the real disk", args: []string{"--log-backend=batched"}},
		{name: "adr", args: []string{"--log-backend=adr"}},
		{name: "async", args: []string{"--log-backend=async", "--unsafe-allow-nondurable"},
			want: []string{"--log-backend async is not durable (accepted, synced later"}},
		{name: "memory on an emulated disk", args: []string{"--log-backend=memory", "--unsafe-allow-nondurable", "--disk-profile=ssd-2015"},
			want: []string{"--log-backend memory is not durable (in this process's memory only", "--disk-profile ssd-2015: every log sync is slowed"}},
		{name: "fixed sync latency", args: []string{"--disk-sync-latency=2ms"},
			want: []string{"--disk-sync-latency 2ms: every log sync is slowed by that much"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := optionsFor(t, tt.args).startupWarnings()
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}

// TestServeHidesTestSwitch checks that the switch that breaks
// linearizable reads is not offered in serve's help.
func TestServeHidesTestSwitch(t *testing.T) {
	root := newRootCmd(catalog.DefaultConfigs())
	var stdout bytes.Buffer
	root.SetArgs([]string{"serve", "--help"})
	root.SetOut(&stdout)
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "--log-backend") || strings.Contains(stdout.String(), unsafeStaleReadsFlag) {
		t.Fatalf("serve --help shows the test-only switch, or is not serve's help:\n%s", &stdout)
	}
}

// optionsFor parses args as serve's flags and validates them.
func optionsFor(t *testing.T, args []string) *serveOptions {
	t.Helper()
	o := &serveOptions{backends: catalog.DefaultConfigs()}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	o.initialClusterSet = fs.Changed("initial-cluster")
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestServeRuns starts a one-member server in process, writes through it,
// and stops it by ending the command's context, as SIGTERM does.
func TestServeRuns(t *testing.T) {
	client, peer := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--name=solo", "--data-dir=" + filepath.Join(t.TempDir(), "d"),
			"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--log-backend=memory", "--unsafe-allow-nondurable", "--log-level=warn"}, &bytes.Buffer{}, &stderr)
	}()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Put(pctx, "k", "v")
		pcancel()
		if err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before serving: %s", code, &stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful put within 20s: %v\n%s", err, &stderr)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d after a clean stop: %s", code, &stderr)
		}
		if w := "level=WARN msg=\"--log-backend memory is not durable"; !strings.Contains(stderr.String(), w) {
			t.Fatalf("serve on memory did not warn %q at startup:\n%s", w, &stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of its context ending")
	}
}

// lockedBuffer is written by the server's logger while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("http://%s", l.Addr())
}

func TestServeProcs(t *testing.T) {
	tests := []struct {
		name    string
		current int
		env     string
		want    int
	}{
		{"one CPU", 1, "", minServeProcs},
		{"one P chosen by GOMAXPROCS", 1, "1", 1},
		{"GOMAXPROCS the runtime ignores", 1, "many", minServeProcs},
		{"GOMAXPROCS zero, which the runtime ignores", 1, "0", minServeProcs},
		{"already two", 2, "", 2},
		{"many CPUs", 8, "", 8},
		{"many chosen by GOMAXPROCS", 8, "8", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serveProcs(tt.current, tt.env); got != tt.want {
				t.Errorf("serveProcs(%d, %q) = %d, want %d", tt.current, tt.env, got, tt.want)
			}
		})
	}
}
