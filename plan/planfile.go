package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PlanSchema names the format of plan.json.
const PlanSchema = "adrbench.plan/v1"

// PlanFileName is the file a plan's output directory holds.
const PlanFileName = "plan.json"

// Kinds of plan.json.
const (
	KindMeasured  = "measured"
	KindPredicted = "predicted"
)

// PlanFile is plan.json: a contract for scripts. The fields of PlanPoint
// up to Extrapolated are the contract; the rest are additions.
type PlanFile struct {
	Schema string      `json:"schema"`
	Kind   string      `json:"kind"`
	SLO    SLO         `json:"slo"`
	Points []PlanPoint `json:"points"`

	// Additions.
	Calibration string `json:"calibration,omitempty"`
	// Validation is the measured error of the model that made a predicted
	// plan, when the calibration was validated.
	Validation *Summary `json:"validation,omitempty"`
	NeedWrites float64  `json:"need_writes,omitempty"`
	// Meets lists the indexes of Points that meet NeedWrites, smallest
	// and cheapest first; Nearest, when none does, the closest.
	Meets    []int           `json:"meets,omitempty"`
	Nearest  []int           `json:"nearest,omitempty"`
	Timeouts []TimeoutAdvice `json:"timeouts,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
}

// SLO is the latency objective.
type SLO struct {
	P99Ms  float64 `json:"p99_ms"`
	P50Ms  float64 `json:"p50_ms,omitempty"`
	P999Ms float64 `json:"p999_ms,omitempty"`
}

// PlanPoint is one configuration's answer.
type PlanPoint struct {
	Target         string  `json:"target"`
	Backend        string  `json:"backend"`
	Nodes          int     `json:"nodes"`
	NetDelayMs     float64 `json:"net_delay_ms"`
	DiskProfile    string  `json:"disk_profile"`
	CoresPerMember int     `json:"cores_per_member"`
	Clients        int     `json:"clients"`
	Conns          int     `json:"conns"`
	ValSize        int     `json:"val_size"`
	MaxWritesS     float64 `json:"max_writes_s"`
	P99MsAtMax     float64 `json:"p99_ms_at_max"`
	Low            float64 `json:"low"`
	High           float64 `json:"high"`
	Bottleneck     string  `json:"bottleneck"`
	Extrapolated   bool    `json:"extrapolated"`

	// Additions.
	KeySize     int     `json:"key_size,omitempty"`
	NetJitterMs float64 `json:"net_jitter_ms,omitempty"`
	// Why lists what makes the point extrapolated.
	Why []string `json:"extrapolated_why,omitempty"`
	// Saturation is the predicted closed-loop throughput of the point's
	// clients (predicted plans).
	Saturation float64 `json:"saturation_writes_s,omitempty"`
	// Probes is how many probes a measured point took; Found is false
	// when its search did not finish.
	Probes int  `json:"probes,omitempty"`
	Found  bool `json:"found,omitempty"`
	// Note says what is special (unsafe backend, not durable, knee above
	// or below the searched range).
	Note string `json:"note,omitempty"`
}

// TimeoutAdvice is etcd's timing rule applied to one round trip.
type TimeoutAdvice struct {
	RTTMs               float64 `json:"rtt_ms"`
	HeartbeatIntervalMs float64 `json:"heartbeat_interval_ms"`
	ElectionTimeoutMs   float64 `json:"election_timeout_ms"`
	Note                string  `json:"note,omitempty"`
}

// pointOf makes a plan point of a setup.
func pointOf(s Setup) PlanPoint {
	return PlanPoint{Target: s.Target, Backend: s.Backend, Nodes: s.Nodes, NetDelayMs: ms(s.NetDelay),
		DiskProfile: s.DiskProfile, CoresPerMember: s.CoresPerMember, Clients: s.Clients, Conns: s.Conns,
		ValSize: s.ValSize, KeySize: s.KeySize, NetJitterMs: ms(s.NetJitter)}
}

// Setup is the configuration of a plan point.
func (p PlanPoint) Setup() Setup {
	return Setup{Target: p.Target, Backend: p.Backend, Nodes: p.Nodes, NetDelay: msDuration(p.NetDelayMs),
		NetJitter: msDuration(p.NetJitterMs), DiskProfile: p.DiskProfile, CoresPerMember: p.CoresPerMember,
		Clients: p.Clients, Conns: p.Conns, KeySize: max(p.KeySize, 1), ValSize: p.ValSize}
}

// WritePlan saves f as dir/plan.json.
func WritePlan(dir string, f *PlanFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode plan: %w", ErrRunDir, err)
	}
	return writeAtomic(filepath.Join(dir, PlanFileName), append(data, '\n'))
}

// ReadPlan reads dir/plan.json; (nil, nil) when there is none.
func ReadPlan(dir string) (*PlanFile, error) {
	data, err := os.ReadFile(filepath.Join(dir, PlanFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	var f PlanFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRunDir, filepath.Join(dir, PlanFileName), err)
	}
	if f.Schema != PlanSchema {
		return nil, fmt.Errorf("%w: %s is of schema %q, want %q", ErrRunDir, filepath.Join(dir, PlanFileName), f.Schema, PlanSchema)
	}
	return &f, nil
}

// AdviseTimeouts applies etcd's tuning rule to a round trip: a heartbeat
// of about one round trip (0.5-1.5x), an election timeout of at least ten,
// and no more than 50 s. Below etcd's defaults (100 ms and 1 s), which
// already satisfy the rule's lower bounds on a LAN, the defaults are kept.
func AdviseTimeouts(rttMs float64) TimeoutAdvice {
	a := TimeoutAdvice{RTTMs: rttMs}
	a.HeartbeatIntervalMs = max(100, roundUp(rttMs))
	a.ElectionTimeoutMs = max(1000, roundUp(10*rttMs), 10*a.HeartbeatIntervalMs)
	switch {
	case a.ElectionTimeoutMs > 50000:
		a.ElectionTimeoutMs = 50000
		a.Note = "the round trip is too long for etcd's rule: the election timeout is capped at 50 s"
	case rttMs*1.5 < 100:
		a.Note = "etcd's defaults; a shorter heartbeat only costs CPU at this round trip"
	}
	return a
}

func roundUp(v float64) float64 {
	if v <= 0 {
		return 0
	}
	switch {
	case v < 10:
		return float64(int(v + 0.999))
	case v < 100:
		return float64(int(v/5+0.999)) * 5
	}
	return float64(int(v/10+0.999)) * 10
}
