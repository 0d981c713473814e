package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func testRun(t *testing.T) *Run {
	t.Helper()
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for i := int64(1); i <= 1000; i++ {
		if err := h.RecordValue(i * int64(time.Microsecond)); err != nil {
			t.Fatal(err)
		}
	}
	return &Run{
		Header: Header{
			Schema:  SchemaV1,
			Name:    "bench-put",
			Started: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
			Git:     "abc123",
			Host:    Host{CPU: "test cpu", Cores: 2, MemoryBytes: 1 << 30, Kernel: "Linux 6", Disk: "ext4 /dev/sda1"},
			Config:  json.RawMessage(`{"workload":"put"}`),
		},
		Points: []Point{{
			Target: "inproc", Backend: "memory", Nodes: 1, DiskProfile: "native", Emulated: []string{},
			Workload: "put", Mode: ModeClosed, Clients: 10, Conns: 2, KeySize: 8, ValSize: 256,
			DurationS: 1, Ops: h.TotalCount(), Errors: 2, Throughput: 1000,
			LatencyMs:    LatencyFromHistogram(h),
			ErrorsByCode: map[string]int64{"Unavailable": 2},
			Series:       []Second{{T: 1, Ops: 1000, Errors: 2, P50: 0.5, P99: 0.99, Max: 1}},
			Histogram:    h,
			LogSyncs:     40, LogEntriesSaved: 1000, LogBytesWritten: 300000,
			LogSyncLatencyMs: &Latency{P50: 1.5, P90: 2, P99: 3, P999: 4, Max: 4},
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), DirName(time.Now(), "bench"))
	want := testRun(t)
	if err := Write(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cfg bytes.Buffer
	if err := json.Compact(&cfg, got.Config); err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || !got.Started.Equal(want.Started) || got.Host != want.Host || cfg.String() != string(want.Config) {
		t.Errorf("header differs: got %+v", got)
	}
	gp, wp := got.Points[0], want.Points[0]
	if gp.LatencyMs != wp.LatencyMs || gp.Ops != wp.Ops || gp.ErrorsByCode["Unavailable"] != 2 || len(gp.Series) != 1 {
		t.Errorf("point differs:\n got %+v\nwant %+v", gp, wp)
	}
	if !gp.Histogram.Equals(wp.Histogram) {
		t.Error("histogram does not round-trip")
	}
	hgrm, err := os.ReadFile(filepath.Join(dir, gp.HgrmFile))
	if err != nil || !strings.Contains(string(hgrm), "Total count") {
		t.Errorf("hgrm file: %v %q", err, hgrm)
	}
	f, err := os.Open(filepath.Join(dir, PointsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "target" || rows[1][0] != "inproc" || len(rows[1]) != len(csvHeader) {
		t.Fatalf("points.csv rows: %q", rows)
	}
	cells := map[string]string{}
	for i, name := range rows[0] {
		cells[name] = rows[1][i]
	}
	for name, want := range map[string]string{"log_syncs": "40", "log_entries_saved": "1000", "log_sync_p99_ms": "3", "watchers": "0"} {
		if cells[name] != want {
			t.Errorf("points.csv %s = %q, want %q", name, cells[name], want)
		}
	}
	if gp.LogSyncLatencyMs == nil || *gp.LogSyncLatencyMs != *wp.LogSyncLatencyMs || gp.LogBytesWritten != 300000 {
		t.Errorf("log stats differ: got %+v", gp)
	}
	if err := Write(dir, testRun(t)); !errors.Is(err, ErrExists) {
		t.Errorf("second Write into %s: %v, want ErrExists", dir, err)
	}
}

// TestContractFieldNames pins the field names of the run schema
// (docs/architecture.md, "Run schema") that scripts depend on.
func TestContractFieldNames(t *testing.T) {
	js, err := json.Marshal(testRun(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		`"schema"`, `"name"`, `"started"`, `"git"`, `"host"`, `"cpu"`, `"cores"`, `"memory_bytes"`,
		`"kernel"`, `"disk"`, `"config"`, `"points"`, `"target"`, `"backend"`, `"nodes"`,
		`"net_delay_ms"`, `"disk_profile"`, `"emulated"`, `"workload"`, `"mode"`, `"clients"`,
		`"conns"`, `"key_size"`, `"val_size"`, `"duration_s"`, `"ops"`, `"errors"`,
		`"throughput_ops_s"`, `"latency_ms"`, `"mean"`, `"p50"`, `"p90"`, `"p99"`, `"p999"`,
		`"max"`, `"syncs_per_op"`,
	} {
		if !strings.Contains(string(js), name+":") {
			t.Errorf("run.json lacks field %s", name)
		}
	}
	// The header's fields are run.json's own, not an object of their own.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"schema", "name", "started", "git", "host", "config", "points"} {
		if _, ok := top[name]; !ok {
			t.Errorf("run.json has no top-level field %q (has %v)", name, slices.Sorted(maps.Keys(top)))
		}
	}
	if len(top) != 7 {
		t.Errorf("run.json has top-level fields %v, want the header's six and points", slices.Sorted(maps.Keys(top)))
	}
}

func TestReadRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		raw  string // used instead of the edited run when set
		want error
	}{
		{name: "not json", raw: "{", want: ErrInvalid},
		{name: "wrong schema", edit: func(m map[string]any) { m["schema"] = "adrbench.run/v0" }, want: ErrSchema},
		{name: "no name", edit: func(m map[string]any) { m["name"] = "" }, want: ErrInvalid},
		{name: "no points", edit: func(m map[string]any) { m["points"] = []any{} }, want: ErrInvalid},
		{name: "bad mode", edit: func(m map[string]any) { point(m)["mode"] = "sideways" }, want: ErrInvalid},
		{name: "negative ops", edit: func(m map[string]any) { point(m)["ops"] = -1 }, want: ErrInvalid},
		{name: "percentiles out of order", edit: func(m map[string]any) {
			point(m)["latency_ms"].(map[string]any)["p50"] = 1e9
		}, want: ErrInvalid},
		{name: "histogram count differs", edit: func(m map[string]any) { point(m)["ops"] = 7 }, want: ErrInvalid},
		{name: "corrupt histogram", edit: func(m map[string]any) { point(m)["histogram"] = "!!" }, want: ErrInvalid},
		{name: "missing hgrm", edit: func(m map[string]any) { point(m)["hgrm"] = "nope.hgrm" }, want: ErrInvalid},
		{name: "hgrm path escapes", edit: func(m map[string]any) { point(m)["hgrm"] = "../x.hgrm" }, want: ErrInvalid},
		{name: "errors by code mismatch", edit: func(m map[string]any) {
			point(m)["errors_by_code"] = map[string]any{"Unavailable": 1}
		}, want: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, testRun(t)); err != nil {
				t.Fatal(err)
			}
			raw := []byte(tc.raw)
			if tc.raw == "" {
				data, err := os.ReadFile(filepath.Join(dir, RunFile))
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				tc.edit(m)
				if raw, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, RunFile), raw, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("missing run.json", func(t *testing.T) {
		if _, err := Read(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Read: %v, want not exist", err)
		}
	})
}

func point(m map[string]any) map[string]any {
	return m["points"].([]any)[0].(map[string]any)
}

func TestWriteValidates(t *testing.T) {
	r := testRun(t)
	r.Points[0].Mode = ""
	if err := Write(t.TempDir(), r); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Write: %v, want ErrInvalid", err)
	}
}
