package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/results"
)

// fakePoint is the point harness.Bench would report for b, with made-up
// measurements.
func fakePoint(b harness.BenchConfig) results.Point {
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for i := range 100 {
		_ = h.RecordValue(int64(time.Millisecond) + int64(i)*1000)
	}
	p := results.Point{
		Target: b.Cluster.Target, Backend: b.Cluster.LogBackend, Nodes: b.Cluster.Nodes,
		NetDelayMs: float64(b.Cluster.NetDelay) / 1e6, DiskProfile: b.Cluster.DiskProfile, Emulated: []string{},
		Workload: b.Workload.Name, Mode: b.Run.Mode, Clients: b.Run.Clients, Conns: b.Conns,
		KeySize: b.Workload.KeySize, ValSize: b.Workload.ValSize, DurationS: 1,
		Ops: h.TotalCount(), Throughput: float64(h.TotalCount()), LatencyMs: results.LatencyFromHistogram(h),
		Histogram: h,
	}
	if b.Run.Mode == results.ModeOpen {
		p.RateOpsS = b.Run.Rate
	}
	if b.Cluster.Target == harness.TargetEtcd {
		p.Backend = "etcd-wal"
	}
	return p
}

// fakeBench measures instantly and records what it was asked to run.
type fakeBench struct {
	mu       sync.Mutex
	ran      []string
	fail     map[string]bool // labels that fail
	cancel   func()          // called when the run count reaches cancelAt
	cancelAt int
}

func (f *fakeBench) bench(ctx context.Context, b harness.BenchConfig) (*results.Point, results.Header, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, labelOf(b))
	if f.cancel != nil && len(f.ran) == f.cancelAt {
		f.cancel()
		// Like harness.Bench, a cancelled point still comes back with
		// what it measured before the end.
		p := fakePoint(b)
		return &p, results.Header{Schema: results.SchemaV1, Name: b.Name, Started: time.Now()}, nil
	}
	if f.fail[labelOf(b)] {
		return nil, results.Header{}, fmt.Errorf("%w: cluster would not start", harness.ErrTarget)
	}
	p := fakePoint(b)
	return &p, results.Header{Schema: results.SchemaV1, Name: b.Name, Started: time.Now(), Git: "abc", Host: results.Host{Cores: 2}}, nil
}

// pointsOf counts run's points, none when there is no run.
func pointsOf(run *results.Run) int {
	if run == nil {
		return 0
	}
	return len(run.Points)
}

func smallPlan(t *testing.T) (Config, Plan) {
	t.Helper()
	c := DefaultConfig()
	c.Name = "small"
	c.Backends = []string{"batched", "memory"}
	c.Nodes = []int{1, 3}
	c.OpenLoop = OpenLoop{Rates: []float64{100, 200}, Clients: 4, Conns: 1, Nodes: []int{1}, Backends: []string{"memory"}}
	plan, err := Expand(c, Env{Backends: []string{"batched", "memory"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Points) != 6 {
		t.Fatalf("plan has %d points, want 6", len(plan.Points))
	}
	return c, plan
}

func TestRunWritesEveryPoint(t *testing.T) {
	c, plan := smallPlan(t)
	dir := filepath.Join(t.TempDir(), "run")
	f := &fakeBench{}
	out, err := (&Runner{Bench: f.bench, Quick: true}).Run(context.Background(), c, plan, dir)
	if err != nil {
		t.Fatal(err)
	}
	if out.Measured != 6 || out.Resumed != 0 {
		t.Fatalf("outcome %+v", out)
	}
	run, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Points) != 6 || run.Git != "abc" || run.Name != "small" {
		t.Fatalf("run.json: %d points, git %q, name %q", len(run.Points), run.Git, run.Name)
	}
	for _, name := range []string{results.PointsFile, "point-005.hgrm"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	var rec Recorded
	if err := json.Unmarshal(run.Config, &rec); err != nil || !rec.Quick || rec.SweepYAML == "" || rec.PlannedPoints != 6 {
		t.Fatalf("config not recorded (%v): %s", err, run.Config)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".save-*"))
	if len(left) > 0 {
		t.Fatalf("temporary directories left behind: %v", left)
	}
}

func TestResumeSkipsMeasuredPoints(t *testing.T) {
	c, plan := smallPlan(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The third point is cancelled in flight: two are kept, the third is
	// dropped although the bench returned it.
	first := &fakeBench{cancel: cancel, cancelAt: 3}
	out, err := (&Runner{Bench: first.bench}).Run(ctx, c, plan, dir)
	if !errors.Is(err, ErrInterrupted) || out.Measured != 2 {
		t.Fatalf("interrupted run: %+v, %v", out, err)
	}
	run, err := results.Read(dir)
	if err != nil || len(run.Points) != 2 {
		t.Fatalf("after interruption run.json has %v points (err %v), want 2", pointsOf(run), err)
	}

	second := &fakeBench{}
	out, err = (&Runner{Bench: second.bench}).Run(context.Background(), c, plan, dir)
	if err != nil {
		t.Fatal(err)
	}
	if out.Resumed != 2 || out.Measured != 4 || len(second.ran) != 4 {
		t.Fatalf("resume: %+v ran %v", out, second.ran)
	}
	for _, l := range second.ran {
		if l == plan.Points[0].Label || l == plan.Points[1].Label {
			t.Fatalf("resume ran measured point %s again", l)
		}
	}
	run, err = results.Read(dir)
	if err != nil || len(run.Points) != 6 {
		t.Fatalf("after resume %v points (err %v), want 6", pointsOf(run), err)
	}

	third := &fakeBench{}
	out, err = (&Runner{Bench: third.bench}).Run(context.Background(), c, plan, dir)
	if err != nil || out.Measured != 0 || len(third.ran) != 0 {
		t.Fatalf("complete run re-ran %v (%+v, %v)", third.ran, out, err)
	}
}

func TestResumeRefusesAnotherRun(t *testing.T) {
	c, plan := smallPlan(t)
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := (&Runner{Bench: (&fakeBench{}).bench}).Run(context.Background(), c, plan, dir); err != nil {
		t.Fatal(err)
	}
	c.Name = "other"
	if _, err := (&Runner{Bench: (&fakeBench{}).bench}).Run(context.Background(), c, plan, dir); !errors.Is(err, ErrRunDir) {
		t.Fatalf("err = %v, want ErrRunDir", err)
	}
}

func TestFailedPointsAreRecordedAndTheRestRun(t *testing.T) {
	c, plan := smallPlan(t)
	dir := filepath.Join(t.TempDir(), "run")
	f := &fakeBench{fail: map[string]bool{plan.Points[1].Label: true}}
	out, err := (&Runner{Bench: f.bench}).Run(context.Background(), c, plan, dir)
	if !errors.Is(err, ErrPointsFailed) || out.Measured != 5 || len(out.Failed) != 1 {
		t.Fatalf("%+v, %v", out, err)
	}
	run, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(run.Config), "cluster would not start") {
		t.Fatalf("failure not recorded in config: %s", run.Config)
	}
}

// TestNoPointIsAFailure checks that a bench reporting neither a point nor
// an error fails its point instead of writing an empty one.
func TestNoPointIsAFailure(t *testing.T) {
	c, plan := smallPlan(t)
	dir := filepath.Join(t.TempDir(), "run")
	none := func(context.Context, harness.BenchConfig) (*results.Point, results.Header, error) {
		return nil, results.Header{}, nil
	}
	out, err := (&Runner{Bench: none}).Run(context.Background(), c, plan, dir)
	if !errors.Is(err, ErrPointsFailed) || out.Measured != 0 || len(out.Failed) != len(plan.Points) || out.Run != nil {
		t.Fatalf("%+v, %v", out, err)
	}
	if !strings.Contains(out.Failed[0], "no point") {
		t.Errorf("failure %q does not say the bench returned no point", out.Failed[0])
	}
}

func TestProgressLines(t *testing.T) {
	c, plan := smallPlan(t)
	var buf strings.Builder
	w := &lockedWriter{w: &buf}
	if _, err := (&Runner{Bench: (&fakeBench{}).bench, Progress: w}).Run(context.Background(), c, plan, filepath.Join(t.TempDir(), "r")); err != nil {
		t.Fatal(err)
	}
	got := w.String()
	for _, want := range []string{"[1/6] inproc batched n=1 delay=0s disk=native c=1", "[6/6]", "rate=200/s", "ops/s", "ETA"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%s", want, got)
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// TestRealSweep runs two tiny points on inproc members with the memory
// backend through harness.Bench, then resumes with a third.
func TestRealSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real members")
	}
	reg := logbackends.NewRegistry()
	reg.Register(memory.NewEntry())
	bench := func(ctx context.Context, b harness.BenchConfig) (*results.Point, results.Header, error) {
		return harness.Bench(ctx, b, reg)
	}
	c := DefaultConfig()
	c.Name = "real"
	c.Backends = []string{memory.Name}
	c.Nodes = []int{1}
	c.Total = 200
	c.Clients = []Clients{{Clients: 4, Conns: 2}}
	env := Env{Backends: reg.Names()}
	plan, err := Expand(c, env)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := (&Runner{Bench: bench}).Run(context.Background(), c, plan, dir); err != nil {
		t.Fatal(err)
	}
	c.Clients = append(c.Clients, Clients{Clients: 8, Conns: 2})
	plan, err = Expand(c, env)
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&Runner{Bench: bench}).Run(context.Background(), c, plan, dir)
	if err != nil || out.Resumed != 1 || out.Measured != 1 {
		t.Fatalf("resume %+v, %v", out, err)
	}
	run, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Points) != 2 || run.Points[0].Ops != 200 || run.Points[1].Clients != 8 {
		t.Fatalf("points %+v", run.Points)
	}
}
