package proccluster

import (
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/shirou/gopsutil/v3/process"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/testbin"
)

// quickHeartbeat and quickElection are raft timings that elect a leader
// fast, in etcd's milliseconds.
const (
	quickHeartbeat = "--heartbeat-interval=20"
	quickElection  = "--election-timeout=200"
)

// flavor is a server whose members take etcd's flags.
type flavor struct {
	name string
	// config skips the test when the binary is unavailable.
	config func(t *testing.T) Config
}

func flavors() []flavor {
	return []flavor{
		{name: "adrbench", config: func(t *testing.T) Config {
			bin := buildAdrbench(t)
			return Config{Command: []string{bin, "serve"}, Flags: []string{"--log-backend=batched", "--log-level=warn", quickHeartbeat, quickElection}}
		}},
		{name: "etcd", config: func(t *testing.T) Config {
			bin := testbin.Tool(t, "etcd")
			return Config{Command: []string{bin}, Flags: []string{"--logger=zap", "--log-level=warn", quickHeartbeat, quickElection}}
		}},
	}
}

// adrbench is cmd/adrbench, built once for all the package's tests.
var adrbench testbin.Build

func TestMain(m *testing.M) { os.Exit(adrbench.Run(m)) }

func buildAdrbench(t *testing.T) string { return adrbench.Adrbench(t) }

// fronts counts the peer fronts a cluster put in place and closed. Its
// fronts forward nothing: they hand back the member's own address.
type fronts struct{ made, closed atomic.Int64 }

func (f *fronts) front(addr string) (string, io.Closer, error) {
	f.made.Add(1)
	return addr, closer{&f.closed}, nil
}

type closer struct{ n *atomic.Int64 }

func (c closer) Close() error { c.n.Add(1); return nil }

func processStopped(t *testing.T, pid int) bool {
	t.Helper()
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	st, err := p.Status()
	if err != nil {
		t.Fatalf("status of %d: %v", pid, err)
	}
	return slices.Contains(st, process.Stop)
}

// put writes through the first running member that is not paused.
func put(ctx context.Context, t *testing.T, c *Cluster, k, v string) {
	t.Helper()
	ms := c.answering()
	if len(ms) == 0 {
		t.Fatalf("put %s: no member answers", k)
	}
	if _, err := testClient(t, ms[0]).Put(ctx, k, v); err != nil {
		t.Fatalf("put %s through %s: %v", k, ms[0].Name(), err)
	}
}

// get reads k linearizably through m.
func get(ctx context.Context, t *testing.T, m *Member, k, want string) {
	t.Helper()
	resp, err := testClient(t, m).Get(ctx, k)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != want {
		t.Fatalf("get %s through %s: %v, %v; want %s", k, m.Name(), resp, err, want)
	}
}

// testClient is a client of m closed when the test ends.
func testClient(t *testing.T, m *Member) *clientv3.Client {
	t.Helper()
	cs := newClients()
	t.Cleanup(cs.close)
	cli, err := cs.client(m)
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// shell is the command that runs script in place of a server; the
// member's flags follow as the script's arguments.
func shell(t *testing.T, script string) []string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH to stand in for a member: ", err)
	}
	return []string{sh, "-c", script, "member"}
}

// countRemovals makes c count its RemoveMember calls.
func countRemovals(c *Config) *atomic.Int64 {
	var n atomic.Int64
	c.RemoveMember = func(dir string) error {
		n.Add(1)
		return os.RemoveAll(dir)
	}
	return &n
}
