package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/adrbench/adrbench/internal/proccluster"
	"github.com/adrbench/adrbench/internal/testbin"
	"github.com/adrbench/adrbench/logbackends/catalog"
	"github.com/adrbench/adrbench/store"
)

// flavor is a server binary the e2e tests run clusters of.
type flavor struct {
	name  string
	spec  func(t *testing.T) proccluster.Config // skips the test when the binary is unavailable
	isOur bool
}

var flavors = []flavor{
	{name: "etcd", spec: etcdSpec},
	{name: "adrbench", spec: adrbenchSpec, isOur: true},
}

// etcdSpec runs Debian's etcd (scripts/test.sh installs it).
func etcdSpec(t *testing.T) proccluster.Config {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not on PATH (scripts/test.sh installs it): ", err)
	}
	return proccluster.Config{Command: []string{bin}}
}

// adrbenchSpec builds cmd/adrbench and runs `adrbench serve`.
func adrbenchSpec(t *testing.T) proccluster.Config {
	t.Helper()
	return serveSpec(buildAdrbench(t), "batched")
}

// serveSpec runs `bin serve` on a log backend, with the opt-in serve
// requires for one that is not durable.
func serveSpec(bin, backend string) proccluster.Config {
	flags := []string{"--log-backend=" + backend}
	if e, err := catalog.DefaultConfigs().Registry().Lookup(backend); err == nil && !e.Durable {
		flags = append(flags, "--unsafe-allow-nondurable")
	}
	return proccluster.Config{Command: []string{bin, "serve"}, Flags: flags}
}

// removeMember removes a member's data directory with what its log backend
// keeps outside it, such as the adr backend's emulated region on tmpfs (a
// missing one is not an error). The member's backend is in its flags, not
// known here, so every backend of the binary's catalog, at its default
// settings as the members run it, destroys what it would have kept.
func removeMember(dataDir string) error {
	backends := catalog.DefaultConfigs().Registry()
	var errs []error
	for _, name := range backends.Names() {
		errs = append(errs, store.RemoveDataDir(backends, name, dataDir))
	}
	return errors.Join(errs...)
}

// newClient returns a quiet clientv3 client for the endpoints.
func newClient(endpoints ...string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// adrbench is cmd/adrbench, built once for all the package's tests.
var adrbench testbin.Build

func TestMain(m *testing.M) { os.Exit(adrbench.Run(m)) }

func buildAdrbench(t *testing.T) string { return adrbench.Adrbench(t) }

func needEtcdctl(t *testing.T) string { return testbin.Tool(t, "etcdctl") }

// startCluster starts a cluster of size members in spec.Dir (a temporary
// directory when empty) and, when the test ends, stops it cleanly (an
// unclean stop fails the test), removes the members' data and regions,
// and prints the members' logs if the test failed.
func startCluster(t *testing.T, spec proccluster.Config, size int) *proccluster.Cluster {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = t.TempDir()
	}
	spec.Size, spec.RemoveMember = size, removeMember
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := proccluster.Start(ctx, spec)
	if err != nil {
		t.Fatalf("start %s cluster: %v", spec.Command[0], err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.StopAll(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("remove data: %v", err)
		}
		if t.Failed() {
			for _, m := range c.Members() {
				t.Logf("--- %s log (last 40 lines):\n%s", m.Name(), m.LogTail(40))
			}
		}
	})
	return c
}

// lineDiff returns a readable diff of two texts: lines only in want are
// marked "-", lines only in got "+", with a little context.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		mark byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', b[j]})
			j++
		default:
			lines = append(lines, line{'-', a[i]})
			i++
		}
	}
	const context = 3
	var out strings.Builder
	last := -1
	for k, l := range lines {
		near := false
		for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
			near = near || lines[d].mark != ' '
		}
		if !near {
			continue
		}
		if last >= 0 && k > last+1 {
			out.WriteString("...\n")
		}
		out.WriteString(string(l.mark) + " " + l.text + "\n")
		last = k
	}
	return out.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
