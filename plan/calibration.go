package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/plan/model"
	"github.com/adrbench/adrbench/results"
)

// CalibrationSchema names the format of calibration.json.
const CalibrationSchema = "adrbench.calibration/v1"

// CalibrationFile is the file a calibration directory holds.
const CalibrationFile = "calibration.json"

// Calibration is this machine's costs for the model: what
// `adrbench plan calibrate` measured, with the raw observations the costs
// were derived from.
type Calibration struct {
	Schema   string       `json:"schema"`
	Created  time.Time    `json:"created"`
	Git      string       `json:"git"`
	Host     results.Host `json:"host"`
	Duration float64      `json:"duration_s"`
	// Cores are the cores every calibration run shared: the machine a
	// cores_per_member 0 prediction describes. AvailableCores is how much
	// of them the saturated calibration runs got (CPU time over wall
	// time): less than Cores when other work shared the machine, which a
	// prediction for this machine then assumes it still does.
	Cores          int     `json:"cores"`
	AvailableCores float64 `json:"available_cores,omitempty"`
	// CPU are the costs per task, in seconds of CPU: without the garbage
	// collector's marking when GC is set, with it spread evenly when not.
	CPU CPUCosts `json:"cpu"`
	// GC is the Go collector of the process every member and the
	// generator share on this machine, when measured.
	GC *GCCal `json:"gc,omitempty"`
	// Saves are the Save latency distributions and CPU of each log
	// backend on each disk profile measured.
	Saves []SaveCal `json:"saves"`
	// Contention is how much slower the native disk's syncs get when
	// several members sync it at once (members of one machine share it).
	Contention []ContentionPoint `json:"contention"`
	// Runs are the cluster runs the CPU costs were fitted to, each with
	// what the model predicts for it (an in-sample check).
	Runs []CalRun `json:"runs"`
	// Envelope is what was calibrated; predictions outside it are marked
	// extrapolated.
	Envelope Envelope `json:"envelope"`
	Notes    []string `json:"notes,omitempty"`
}

// CPUCosts are the model's CPU costs as measured here (seconds).
type CPUCosts struct {
	// Write and WritePerConn are the CPU per write of the generator and
	// the member that takes it together: Write plus WritePerConn times
	// connections/clients (a connection carrying one client's writes
	// pays its per-call overhead alone; one carrying many shares it).
	Write        float64 `json:"write_s"`
	WritePerConn float64 `json:"write_per_conn_s"`
	// Gen is the load generator's CPU per write (send and response),
	// measured with the generator alone in a process (64 clients on 16
	// connections): it sets the generator's share of the per-write CPU.
	Gen float64 `json:"gen_s"`
	// Ready is the CPU of one raft loop pass; Entry the raft CPU of one
	// entry appended to a member's log, without its log backend's Save
	// work (SaveCal has that).
	Ready float64 `json:"ready_s"`
	Entry float64 `json:"entry_s"`
	// Apply is the CPU of applying one put to the state machine.
	Apply float64 `json:"apply_s"`
	// Transport costs per message and per byte, both ends together, of
	// the in-process network (inproc) and of TCP (process and separate
	// servers).
	MsgInproc  float64 `json:"msg_inproc_s"`
	ByteInproc float64 `json:"byte_inproc_s"`
	MsgTCP     float64 `json:"msg_tcp_s"`
	ByteTCP    float64 `json:"byte_tcp_s"`
	// Fit describes how Req, Ready and Entry were fitted.
	Fit string `json:"fit"`
}

// SaveCal is one log backend on one disk profile.
type SaveCal struct {
	Backend string `json:"backend"`
	Profile string `json:"profile"`
	// Quantiles of a one-entry Save's latency (seconds) at probabilities
	// 0, 1/(n-1), ..., 1; PerEntry the mean latency each further entry of
	// a Save adds.
	Quantiles []float64 `json:"quantiles_s"`
	PerEntry  float64   `json:"per_entry_s"`
	Samples   int       `json:"samples"`
	// CPUCall and CPUEntry are the backend's CPU per Save and per entry
	// (a background drainer or syncer included).
	CPUCall  float64 `json:"cpu_call_s"`
	CPUEntry float64 `json:"cpu_entry_s"`
	// Mean and P99 of a one-entry Save, for reading.
	Mean float64 `json:"mean_s"`
	P99  float64 `json:"p99_s"`
}

// ContentionPoint is the native disk's mean sync latency with Writers
// members syncing at once, relative to one.
type ContentionPoint struct {
	Writers int     `json:"writers"`
	Factor  float64 `json:"factor"`
}

// CalRun is one cluster run of the calibration.
type CalRun struct {
	Setup   Setup   `json:"setup"`
	Purpose string  `json:"purpose"`
	Ops     int64   `json:"ops"`
	Seconds float64 `json:"seconds"`
	// CPU is the CPU time of the process that ran it (generator and, for
	// inproc, every member); ServerCPU that of the member processes.
	CPU       float64 `json:"cpu_s"`
	ServerCPU float64 `json:"server_cpu_s,omitempty"`
	// Saves and Entries per member (leader first), over the measured
	// part of the run.
	Saves   []uint64 `json:"saves,omitempty"`
	Entries []uint64 `json:"entries,omitempty"`
	// Throughput measured, and the model's prediction for the same run.
	Throughput float64 `json:"throughput"`
	Predicted  float64 `json:"predicted"`
	// PredictedCPU is the model's CPU per write (s) for the run, to set
	// against CPU/Ops: unlike throughput it does not depend on how much
	// of the machine others left the run.
	PredictedCPU float64 `json:"predicted_cpu_s"`
	// GC is the collector's work during an inproc run (nil for runs in
	// other processes, and in calibrations made before it was measured).
	GC *GCStats `json:"gc,omitempty"`
}

// Envelope is the range calibration covered.
type Envelope struct {
	MaxNodes    int      `json:"max_nodes"`
	MaxDelayMs  float64  `json:"max_delay_ms"`
	MinValSize  int      `json:"min_val_size"`
	MaxValSize  int      `json:"max_val_size"`
	Profiles    []string `json:"profiles"`
	Backends    []string `json:"backends"`
	MaxClients  int      `json:"max_clients"`
	SharedCores bool     `json:"shared_cores"`
}

// LoadCalibration reads dir/calibration.json and checks its schema.
func LoadCalibration(dir string) (*Calibration, error) {
	data, err := os.ReadFile(filepath.Join(dir, CalibrationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (run `adrbench plan calibrate --out %s` first)", ErrCalibration, dir, CalibrationFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCalibration, err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCalibration, filepath.Join(dir, CalibrationFile), err)
	}
	if head.Schema != CalibrationSchema {
		return nil, fmt.Errorf("%w: %s is of schema %q, want %q", ErrCalibration, filepath.Join(dir, CalibrationFile), head.Schema, CalibrationSchema)
	}
	var c Calibration
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCalibration, filepath.Join(dir, CalibrationFile), err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCalibration, filepath.Join(dir, CalibrationFile), err)
	}
	return &c, nil
}

func (c *Calibration) validate() error {
	switch {
	case c.Cores < 1:
		return fmt.Errorf("cores %d", c.Cores)
	case len(c.Saves) == 0:
		return errors.New("no Save distributions")
	}
	for _, v := range []float64{c.CPU.Gen, c.CPU.Write, c.CPU.WritePerConn, c.CPU.Ready, c.CPU.Entry, c.CPU.Apply,
		c.CPU.MsgInproc, c.CPU.ByteInproc, c.CPU.MsgTCP, c.CPU.ByteTCP} {
		if math.IsNaN(v) || v < 0 {
			return fmt.Errorf("a CPU cost is %v", v)
		}
	}
	for _, s := range c.Saves {
		d := model.Disk{Quantiles: s.Quantiles, PerEntry: s.PerEntry}
		if err := (model.Config{Nodes: 1, SharedCores: 1, Disk: d, Measure: 1,
			Load: model.Load{Closed: true, Clients: 1, Conns: 1}}).Validate(); err != nil {
			return fmt.Errorf("save distribution %s/%s: %w", s.Backend, s.Profile, err)
		}
	}
	return nil
}

// Write saves c as dir/calibration.json.
func (c *Calibration) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode calibration: %w", ErrRunDir, err)
	}
	return writeAtomic(filepath.Join(dir, CalibrationFile), append(data, '\n'))
}

// writeAtomic writes path through a temporary file renamed over it, so a
// crash leaves the old content or the new, never half of either.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return nil
}

// save finds the calibrated Save of backend on profile.
func (c *Calibration) save(backend, profile string) (SaveCal, bool) {
	for _, s := range c.Saves {
		if s.Backend == backend && s.Profile == profile {
			return s, true
		}
	}
	return SaveCal{}, false
}

// Backends are the backends calibrated.
func (c *Calibration) Backends() []string {
	var out []string
	for _, s := range c.Saves {
		if !slices.Contains(out, s.Backend) {
			out = append(out, s.Backend)
		}
	}
	sort.Strings(out)
	return out
}

// profileSensitive says whether a backend's Save waits for the disk: the
// others (adr, async, memory) acknowledge before any sync, so a disk
// profile changes only their background work.
func profileSensitive(backend string) bool { return backend == "fsync" || backend == "batched" }

// contention is the factor by which w members syncing the native disk at
// once slow each other's syncs, interpolated between calibrated points and
// held at the last one beyond them.
func (c *Calibration) contention(w int) float64 {
	pts := c.Contention
	if len(pts) == 0 || w <= 1 {
		return 1
	}
	if w <= pts[0].Writers {
		return pts[0].Factor
	}
	for i := 1; i < len(pts); i++ {
		if w <= pts[i].Writers {
			a, b := pts[i-1], pts[i]
			return a.Factor + (b.Factor-a.Factor)*float64(w-a.Writers)/float64(b.Writers-a.Writers)
		}
	}
	return pts[len(pts)-1].Factor
}

// Built is a setup turned into a model configuration, with the reasons it
// lies outside what was calibrated.
type Built struct {
	Config       model.Config
	Extrapolated []string
}

// ModelConfig builds the model configuration of setup s under a load: a
// closed loop when rate is 0, else an open loop at rate. The simulation
// length (warm-up and measured writes) is the caller's.
func (c *Calibration) ModelConfig(s Setup, rate float64) (Built, error) {
	var b Built
	native, ok := c.save(s.Backend, diskprofile.Native)
	if !ok {
		return b, fmt.Errorf("%w: backend %q was not calibrated (calibrated: %v)", ErrCalibration, s.Backend, c.Backends())
	}
	prof, err := diskprofile.Lookup(s.DiskProfile)
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	sv := native
	shared := s.CoresPerMember == 0
	if profileSensitive(s.Backend) && s.DiskProfile != diskprofile.Native && !shared {
		// A dedicated server with that disk: its syncs take what the
		// profile says, not what emulating it here took (on top of this
		// machine's own disk, plus the sleep's timer slack).
		mem, ok := c.save("memory", diskprofile.Native)
		if !ok {
			return b, fmt.Errorf("%w: the memory backend was not calibrated", ErrCalibration)
		}
		base := mem
		base.Backend = s.Backend
		if s.Backend == "fsync" {
			base.PerEntry = 0
		}
		sv = composeProfile(base, prof)
		sv.CPUCall, sv.CPUEntry = native.CPUCall, native.CPUEntry
		if s.Backend == "fsync" {
			sv.PerEntry = prof.SyncLatency.Seconds() + prof.Jitter.Seconds()/2
		}
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("disk %s as its profile defines it (%v + up to %v per sync)", s.DiskProfile, prof.SyncLatency, prof.Jitter))
	} else if profileSensitive(s.Backend) && s.DiskProfile != diskprofile.Native {
		if cal, ok := c.save(s.Backend, s.DiskProfile); ok {
			sv = cal
		} else {
			// Not measured: the profile's own definition on top of the
			// native disk, as diskprofile adds it.
			sv = composeProfile(native, prof)
			b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("disk profile %s was not calibrated for %s (its definition added to the native disk)", s.DiskProfile, s.Backend))
		}
	}
	disk := model.Disk{Quantiles: slices.Clone(sv.Quantiles), PerEntry: sv.PerEntry}
	if shared && profileSensitive(s.Backend) {
		// Members of one machine share its disk: the native part of every
		// sync slows with how many sync at once.
		f := c.contention(s.Nodes) - 1
		for i := range disk.Quantiles {
			disk.Quantiles[i] += f * native.Mean
		}
		disk.PerEntry += f * native.PerEntry
	}

	msg, byt := c.CPU.MsgInproc, c.CPU.ByteInproc
	if s.Target == TargetProcess || !shared {
		msg, byt = c.CPU.MsgTCP, c.CPU.ByteTCP
	}
	gen, req := c.writeCPU(s)
	cfg := model.Config{
		Nodes: s.Nodes,
		Costs: model.Costs{
			GenSend: gen / 2, GenRecv: gen / 2,
			ReqIn: req / 2, ReqOut: req / 2,
			Ready: c.CPU.Ready, Entry: c.CPU.Entry,
			SaveCall: sv.CPUCall, SaveEntry: sv.CPUEntry,
			Apply: c.CPU.Apply,
			Msg:   msg / 2, Byte: byt / 2,
		},
		Delay:      s.NetDelay.Seconds(),
		Jitter:     s.NetJitter.Seconds(),
		Disk:       disk,
		EntryBytes: s.KeySize + s.ValSize + entryOverhead,
		Load:       model.Load{Closed: rate == 0, Rate: rate, Clients: s.Clients, Conns: s.Conns, ToLeader: s.ToLeader},
	}
	if shared {
		cfg.SharedCores = c.Cores
		// The cores run slower by the share others took.
		scaleCosts(&cfg.Costs, c.cpuScale())
		if c.GC != nil && s.Target == TargetInproc {
			// One process: its collector marks in phases that slow
			// every core.
			cfg.GC = c.GC.modelGC(s.Nodes, s.Clients, c.cpuScale())
		}
	} else {
		cfg.CoresPerMember = s.CoresPerMember
		cfg.ClientCores = s.CoresPerMember
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("%d dedicated cores per member (calibrated: %d shared)", s.CoresPerMember, c.Cores))
	}
	if c.GC != nil && cfg.GC.Percent == 0 {
		// The costs leave marking out: spread it over them.
		scaleCosts(&cfg.Costs, 1+c.GC.Overhead)
	}
	e := c.Envelope
	if s.Nodes > e.MaxNodes {
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("%d members (calibrated up to %d)", s.Nodes, e.MaxNodes))
	}
	if d := ms(s.NetDelay); d > e.MaxDelayMs {
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("%g ms one-way delay (calibrated up to %g)", d, e.MaxDelayMs))
	}
	if s.ValSize < e.MinValSize || s.ValSize > e.MaxValSize {
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("%d-byte values (calibrated %d..%d)", s.ValSize, e.MinValSize, e.MaxValSize))
	}
	if s.Clients > e.MaxClients {
		b.Extrapolated = append(b.Extrapolated, fmt.Sprintf("%d clients (calibrated up to %d)", s.Clients, e.MaxClients))
	}
	b.Config = cfg
	return b, nil
}

// writeCPU splits the per-write CPU of s between the generator and the
// member taking the write: the generator keeps the share it had when
// measured alone (64 clients on 16 connections).
func (c *Calibration) writeCPU(s Setup) (gen, req float64) {
	total := c.CPU.Write + c.CPU.WritePerConn*float64(s.Conns)/float64(s.Clients)
	atGen := c.CPU.Write + c.CPU.WritePerConn*float64(genConns)/float64(genClients)
	share := 0.5
	if atGen > 0 {
		share = min(1, c.CPU.Gen/atGen)
	}
	return total * share, total * (1 - share)
}

// cpuScale is how much slower this machine's cores were for the cluster
// than their count says: cores over available cores, 1 when unknown.
func (c *Calibration) cpuScale() float64 {
	if a := c.AvailableCores; a > 0 && a < float64(c.Cores) {
		return float64(c.Cores) / a
	}
	return 1
}

func scaleCosts(c *model.Costs, f float64) {
	for _, v := range []*float64{&c.GenSend, &c.GenRecv, &c.ReqIn, &c.ReqOut, &c.Ready, &c.Entry,
		&c.SaveCall, &c.SaveEntry, &c.Apply, &c.Msg, &c.Byte} {
		*v *= f
	}
}

// availableCores is the median, over the calibration runs that kept the
// cores busy (the most clients), of the CPU they used per second.
func availableCores(runs []CalRun, cores int) float64 {
	most := 0
	for _, r := range runs {
		most = max(most, r.Setup.Clients)
	}
	var v []float64
	for _, r := range runs {
		if r.Setup.Clients == most && r.Seconds > 0 {
			v = append(v, min(float64(cores), r.CPU/r.Seconds))
		}
	}
	return median(v)
}

// entryOverhead is the bytes of an entry beyond its key and value: the
// put request's framing, the request id, the entry's term and index.
const entryOverhead = 40

// composeProfile adds a disk profile's latency to a native distribution,
// as diskprofile.Wrap adds it after the real sync: its fixed latency, plus
// the mean of its uniform jitter (the jitter's spread is folded into the
// quantiles by spreading it across them).
func composeProfile(native SaveCal, p diskprofile.Profile) SaveCal {
	out := native
	out.Profile = p.Name
	out.Quantiles = make([]float64, len(native.Quantiles))
	n := len(out.Quantiles)
	for i, q := range native.Quantiles {
		frac := float64(i) / float64(n-1)
		out.Quantiles[i] = q + p.SyncLatency.Seconds() + frac*p.Jitter.Seconds()
	}
	if profileSensitive(native.Backend) && native.Backend == "fsync" {
		// fsync syncs once per entry: every entry pays the profile.
		out.PerEntry = native.PerEntry + p.SyncLatency.Seconds() + p.Jitter.Seconds()/2
	}
	out.Mean = native.Mean + p.SyncLatency.Seconds() + p.Jitter.Seconds()/2
	return out
}
