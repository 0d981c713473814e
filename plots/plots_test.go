package plots

import (
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/results"
)

// point makes a measured-looking point: latencies spread around base ms.
func point(target, backend string, nodes int, disk, mode string, throughput, baseMs float64) results.Point {
	h := hdrhistogram.New(1, int64(10*time.Second), 3)
	for i := range 1000 {
		_ = h.RecordValue(int64(baseMs*1e6) + int64(i*i)*10)
	}
	p := results.Point{
		Target: target, Backend: backend, Nodes: nodes, DiskProfile: disk, Emulated: []string{},
		Workload: "put", Mode: mode, Clients: 100, Conns: 10, KeySize: 8, ValSize: 256, DurationS: 3,
		Ops: h.TotalCount(), Throughput: throughput, LatencyMs: results.LatencyFromHistogram(h), Histogram: h,
	}
	for s := 1; s <= 3; s++ {
		p.Series = append(p.Series, results.Second{T: float64(s), Ops: int64(throughput) + int64(s*10)})
	}
	if disk != "native" {
		p.Emulated = append(p.Emulated, "disk-profile:"+disk)
	}
	switch backend {
	case "async":
		p.Unsafe = "async acknowledges before durable"
	case "adr":
		p.Emulated = append(p.Emulated, "adr-region")
	case "fsync":
		p.LogSyncLatencyMs = &results.Latency{P50: map[string]float64{"native": 0.3, "ssd-2015": 1.6}[disk]}
	}
	return p
}

func syntheticRun() *results.Run {
	r := &results.Run{Header: results.Header{Schema: results.SchemaV1, Name: "synthetic", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Git: "abc123", Host: results.Host{CPU: "Test CPU", Cores: 2, Kernel: "6.1"},
		Config: []byte(`{"sweep_yaml":"name: synthetic\n","quick":true,"notes":["target etcd skipped: not on PATH"],"planned_points":40}`)}}
	for _, disk := range []string{"native", "ssd-2015"} {
		slow := map[string]float64{"native": 1, "ssd-2015": 3}[disk]
		for _, n := range []int{1, 3, 5} {
			for _, b := range []struct {
				name string
				tput float64
			}{{"fsync", 1500}, {"batched", 4000}, {"adr", 9000}, {"async", 12000}, {"memory", 15000}} {
				t := b.tput / float64(n) * 2
				if b.name == "fsync" || b.name == "batched" {
					t /= slow
				}
				r.Points = append(r.Points, point("inproc", b.name, n, disk, results.ModeClosed, t, 1e5/t))
			}
		}
	}
	r.Points = append(r.Points, point("etcd", "etcd-wal", 3, "native", results.ModeClosed, 3000, 30))
	for _, rate := range []float64{1000, 2000, 4000} {
		for _, b := range []string{"batched", "adr"} {
			p := point("inproc", b, 3, "native", results.ModeOpen, rate*0.98, rate/500)
			p.RateOpsS = rate
			r.Points = append(r.Points, p)
		}
	}
	return r
}

func TestRenderAllFigures(t *testing.T) {
	dir := t.TempDir()
	run := syntheticRun()
	if err := results.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	figs, err := RenderDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 6 {
		t.Fatalf("%d figures, want 6", len(figs))
	}
	for _, f := range figs {
		t.Run(f.Name, func(t *testing.T) {
			if f.Skipped != "" {
				t.Fatalf("skipped: %s", f.Skipped)
			}
			if len(f.Table.Rows) == 0 {
				t.Fatal("no table rows")
			}
			for _, name := range f.Files {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || len(data) < 1000 {
					t.Fatalf("%s: %d bytes, %v", name, len(data), err)
				}
				if strings.HasSuffix(name, ".png") && string(data[1:4]) != "PNG" {
					t.Fatalf("%s is not a PNG", name)
				}
				if strings.HasSuffix(name, ".svg") {
					checkXML(t, data)
				}
			}
		})
	}
	report, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	html := string(report)
	for _, want := range []string{
		`<table id="points">`, "throughput-vs-nodes.png", "adr-speedup.svg", "Test CPU", "abc123",
		"target etcd skipped", "Quick run", "UNSAFE", "emulated: disk-profile:ssd-2015", "adr-region",
		"etcd-wal", "latency-spectrum.png", "Data behind this figure",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got := strings.Count(html, "<tr>"); got < len(run.Points)+1 {
		t.Errorf("report has %d table rows, want at least one per point (%d)", got, len(run.Points))
	}
}

func checkXML(t *testing.T, data []byte) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
	}
}

func TestSkippedFigures(t *testing.T) {
	full := syntheticRun()
	tests := []struct {
		name    string
		keep    func(p *results.Point) bool
		skipped []string
	}{
		{"closed loop only", func(p *results.Point) bool { return p.Mode == results.ModeClosed }, []string{FigKnee}},
		{"no adr", func(p *results.Point) bool { return p.Backend != "adr" }, []string{FigSpeedup}},
		{"open loop only", func(p *results.Point) bool { return p.Mode == results.ModeOpen },
			[]string{FigThroughput, FigP99, FigSpectrum, FigSpeedup}},
		{"no histograms or series", func(p *results.Point) bool {
			p.Histogram, p.Series = nil, nil
			return true
		}, []string{FigSpectrum, FigTimeline}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := *full
			run.Points = nil
			for _, p := range full.Points {
				if tt.keep(&p) {
					run.Points = append(run.Points, p)
				}
			}
			// The builders decide; drawing is TestRenderAllFigures' job
			// (and slow under -race).
			for _, b := range builders() {
				cf, _, skipped, err := b.build(&run)
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Contains(tt.skipped, b.name)
				if want != (cf == nil) || want != (skipped != "") {
					t.Errorf("%s: skipped %q, want skipped %v", b.name, skipped, want)
				}
			}
		})
	}
}

func TestRenderRemovesSkippedFiguresAndSaysWhy(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, FigKnee+".png")
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One closed-loop point: every figure but the open-loop and speedup
	// ones is drawn, small.
	run := syntheticRun()
	run.Points = run.Points[:1]
	figs, err := Render(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale %s kept (%v)", stale, err)
	}
	report, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		if f.Skipped != "" && !strings.Contains(string(report), f.Skipped) {
			t.Errorf("report does not say why %s is missing", f.Name)
		}
	}
}

func TestSpeedupUsesProfilesWithoutSyncLatency(t *testing.T) {
	run := syntheticRun()
	for i := range run.Points {
		run.Points[i].LogSyncLatencyMs = nil
	}
	_, tab, skipped, err := speedup(run)
	if err != nil || skipped != "" {
		t.Fatalf("speedup: %v %s", err, skipped)
	}
	// 2 disks x 3 sizes x 2 baselines.
	if len(tab.Rows) != 12 {
		t.Fatalf("%d rows, want 12", len(tab.Rows))
	}
	for _, r := range tab.Rows {
		if r[3] != "unknown" {
			t.Fatalf("row %v claims a sync latency", r)
		}
	}
}

func TestSeriesLabels(t *testing.T) {
	tests := []struct {
		name string
		p    results.Point
		want string
	}{
		{"plain", results.Point{Target: "inproc", Backend: "batched"}, "batched"},
		{"unsafe", results.Point{Target: "inproc", Backend: "async", Unsafe: "x"}, "async (unsafe)"},
		{"emulated region", results.Point{Target: "inproc", Backend: "adr", Emulated: []string{"adr-region"}}, "adr (emulated)"},
		{"disk profile is the panel's", results.Point{Target: "inproc", Backend: "fsync", Emulated: []string{"disk-profile:hdd"}}, "fsync"},
		{"etcd", results.Point{Target: "etcd", Backend: "etcd-wal"}, "etcd (reference)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seriesLabel(&tt.p, false); got != tt.want {
				t.Fatalf("seriesLabel = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCleanTickLabels(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi float64
	}{
		{"fractions", 0.2, 1.3},
		{"thousands", 0, 6200},
		{"small", 0.001, 0.009},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tk := range (CleanTicks{}).Ticks(tt.lo, tt.hi) {
				if len(tk.Label) > 6 || strings.HasSuffix(tk.Label, ".00") {
					t.Errorf("tick %v labelled %q", tk.Value, tk.Label)
				}
			}
		})
	}
}

// TestReportOpensWithHeadline checks the report's order: the headline
// table of best throughputs comes before the configuration dump.
func TestReportOpensWithHeadline(t *testing.T) {
	dir := t.TempDir()
	if err := results.Write(dir, syntheticRun()); err != nil {
		t.Fatal(err)
	}
	if _, err := RenderDir(dir); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	head, run := strings.Index(string(html), `id="headline"`), strings.Index(string(html), "What was run")
	if head < 0 || run < 0 || head > run {
		t.Fatalf("headline at %d, what was run at %d", head, run)
	}
}
