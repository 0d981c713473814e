package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/plan/search"
	"github.com/adrbench/adrbench/results"
)

func TestLoadCalibrationRefusesOtherSchemas(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" writes nothing
		want    string
	}{
		{"missing", "", "plan calibrate"},
		{"other schema", `{"schema": "adrbench.run/v1"}`, `"adrbench.run/v1"`},
		{"not json", `schema: yaml`, "calibration.json"},
		{"no saves", `{"schema": "` + CalibrationSchema + `", "cores": 2}`, "no Save distributions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, CalibrationFile), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadCalibration(dir)
			if !errors.Is(err, ErrCalibration) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadCalibration = %v, want ErrCalibration naming %q", err, tt.want)
			}
		})
	}
}

func TestCalibrationRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := testCalibration()
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCalibration(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.CPU != c.CPU || len(got.Saves) != len(c.Saves) {
		t.Fatalf("round trip changed the calibration: %+v", got.CPU)
	}
}

func TestModelConfigMarksExtrapolation(t *testing.T) {
	c := testCalibration()
	tests := []struct {
		name string
		edit func(*Setup)
		want string // "" means not extrapolated
	}{
		{"inside", func(s *Setup) { s.Nodes = 3 }, ""},
		{"nine members", func(s *Setup) { s.Nodes = 9 }, "9 members"},
		{"WAN", func(s *Setup) { s.NetDelay = 75 * time.Millisecond }, "one-way delay"},
		{"profile not calibrated", func(s *Setup) { s.DiskProfile = "hdd" }, "hdd was not calibrated"},
		{"dedicated cores", func(s *Setup) { s.CoresPerMember = 8 }, "dedicated cores"},
		{"large values", func(s *Setup) { s.ValSize = 64 << 10 }, "values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSetup()
			tt.edit(&s)
			b, err := c.ModelConfig(s, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(b.Extrapolated, "; ")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("extrapolated %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := c.ModelConfig(Setup{Backend: "async", Nodes: 1, DiskProfile: "native", Clients: 1, Conns: 1}, 0); !errors.Is(err, ErrCalibration) {
		t.Fatalf("a backend the calibration lacks: %v", err)
	}
}

func TestSetupValidate(t *testing.T) {
	backends := []string{"batched", "adr"}
	tests := []struct {
		name string
		edit func(*Setup)
		want error
	}{
		{"unknown backend", func(s *Setup) { s.Backend = "floppy" }, ErrConfig},
		{"unknown profile", func(s *Setup) { s.DiskProfile = "floppy" }, ErrConfig},
		{"etcd", func(s *Setup) { s.Target = "etcd" }, ErrNotModelled},
		{"no members", func(s *Setup) { s.Nodes = 0 }, ErrConfig},
		{"negative delay", func(s *Setup) { s.NetDelay = -time.Millisecond }, ErrConfig},
		{"negative cores", func(s *Setup) { s.CoresPerMember = -1 }, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSetup()
			tt.edit(&s)
			if err := s.Validate(backends); !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAdviseTimeouts(t *testing.T) {
	tests := []struct {
		name                string
		rtt                 float64
		heartbeat, election float64
	}{
		{"LAN keeps etcd's defaults", 0.2, 100, 1000},
		{"two zones", 2, 100, 1000},
		{"WAN 150 ms", 150, 150, 1500},
		{"far WAN", 400, 400, 4000},
		{"beyond the cap", 6000, 6000, 50000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := AdviseTimeouts(tt.rtt)
			if a.HeartbeatIntervalMs != tt.heartbeat || a.ElectionTimeoutMs != tt.election {
				t.Fatalf("RTT %v: heartbeat %v election %v, want %v %v", tt.rtt, a.HeartbeatIntervalMs, a.ElectionTimeoutMs, tt.heartbeat, tt.election)
			}
			if a.ElectionTimeoutMs < 10*tt.rtt && a.ElectionTimeoutMs != 50000 {
				t.Fatalf("election timeout %v below 10 RTT", a.ElectionTimeoutMs)
			}
		})
	}
}

// TestPredictedPlanNeedWrites checks the answer to --need-writes: the
// configurations that meet it, fewest members and cheapest first, or the
// nearest ones when none does.
func TestPredictedPlanNeedWrites(t *testing.T) {
	mk := func(backend string, nodes int, disk string, max float64) Prediction {
		s := DefaultSetup()
		s.Backend, s.Nodes, s.DiskProfile = backend, nodes, disk
		return Prediction{Setup: s, Max: max, Low: max * 0.95, High: max * 1.05, Bottleneck: BottleneckSharedCPU}
	}
	preds := []Prediction{
		mk("adr", 5, "native", 9000),
		mk("batched", 5, "ssd-2015", 7000),
		mk("batched", 3, "nvme", 8000),
		mk("adr", 3, "ssd-2015", 8500),
		mk("fsync", 3, "ssd-2015", 400),
	}
	obj := search.Objective{P99: 50}
	pf := PredictedPlan(preds, obj, "cal", nil, 7500)
	var got []string
	for _, i := range pf.Meets {
		p := pf.Points[i]
		got = append(got, p.Backend+"/"+p.DiskProfile)
	}
	// 3 members first (batched before adr, which needs persistent
	// memory), then 5.
	if want := "batched/nvme adr/ssd-2015 adr/native"; strings.Join(got, " ") != want {
		t.Fatalf("meets %v, want %s", got, want)
	}
	if !strings.Contains(pf.Answer(), "batched") || !strings.Contains(pf.Answer(), "3 members") {
		t.Fatalf("answer %q", pf.Answer())
	}
	none := PredictedPlan(preds, obj, "cal", nil, 20000)
	if len(none.Meets) != 0 || len(none.Nearest) != 3 || none.Points[none.Nearest[0]].MaxWritesS != 9000 {
		t.Fatalf("nothing meets 20000: meets %v nearest %v", none.Meets, none.Nearest)
	}
	if !strings.HasPrefix(none.Answer(), "No configuration takes 20000") {
		t.Fatalf("answer %q", none.Answer())
	}
}

// TestCapacityFollowsTheObjective checks the model's knee search: a
// tighter objective never admits more writes, and the bottleneck of a
// slow disk under fsync is the disk.
func TestCapacityFollowsTheObjective(t *testing.T) {
	p := &Predictor{Cal: testCalibration(), Measure: 1500}
	s := DefaultSetup()
	s.Nodes, s.Clients, s.Conns = 3, 256, 32
	loose, err := p.Capacity(context.Background(), s, search.Objective{P99: 500})
	if err != nil {
		t.Fatal(err)
	}
	tight, err := p.Capacity(context.Background(), s, search.Objective{P99: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !(loose.Max > 0 && tight.Max <= loose.Max) {
		t.Fatalf("loose %v, tight %v", loose.Max, tight.Max)
	}
	if loose.Bottleneck != BottleneckSharedCPU {
		t.Fatalf("batched on a fast disk, shared cores: bottleneck %s", loose.Bottleneck)
	}
	s.Backend, s.DiskProfile = "fsync", "ssd-2015"
	f, err := p.Capacity(context.Background(), s, search.Objective{P99: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if f.Bottleneck != BottleneckLeaderDisk && f.Bottleneck != BottleneckFollowerDisk {
		t.Fatalf("fsync on ssd-2015: bottleneck %s", f.Bottleneck)
	}
}

// TestValidateComparesPoints validates against a run directory holding a
// point the model describes and one it does not (real etcd).
func TestValidateComparesPoints(t *testing.T) {
	dir := t.TempDir()
	pt := func(target, backend string) results.Point {
		return results.Point{Target: target, Backend: backend, Nodes: 3, DiskProfile: "native", Emulated: []string{},
			Workload: "put", Mode: results.ModeClosed, Clients: 1000, Conns: 100, KeySize: 8, ValSize: 256,
			DurationS: 10, Ops: 60000, Throughput: 6000,
			LatencyMs: results.Latency{Mean: 100, P50: 100, P90: 150, P99: 200, P999: 250, Max: 300, Min: 10}}
	}
	run := &results.Run{Header: results.Header{Schema: results.SchemaV1, Name: "v", Started: time.Now().UTC()},
		Points: []results.Point{pt("inproc", "batched"), pt("etcd", "etcd-wal")}}
	if err := results.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	p := &Predictor{Cal: testCalibration(), Measure: 1500}
	v, err := p.Validate(context.Background(), "cal", []string{dir}, []string{"batched", "adr", "fsync", "memory"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Points) != 2 || v.Points[0].Skipped != "" || v.Points[1].Skipped == "" {
		t.Fatalf("points %+v", v.Points)
	}
	if got := v.Points[0]; !got.AtCapacity || got.Predicted <= 0 || got.Error != (got.Predicted-6000)/6000 {
		t.Fatalf("inproc point %+v", got)
	}
	if v.AtCapacity.N != 1 || v.All.N != 1 {
		t.Fatalf("summaries %+v %+v", v.AtCapacity, v.All)
	}
}
