package results

import (
	"encoding/json"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaV1 is the schema string written into every run.json.
const SchemaV1 = "adrbench.run/v1"

// Run is the content of run.json: its header, then its points.
type Run struct {
	Header
	Points []Point `json:"points"`
}

// Header is what a run says about itself before its points: which schema,
// which run, when, from which source, on which host, with which
// configuration. Its fields sit at the top level of run.json.
type Header struct {
	Schema  string    `json:"schema"`
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	Git     string    `json:"git"`
	Host    Host      `json:"host"`
	// Config is the effective configuration the run was made with, as the
	// command that made it chose to describe it.
	Config json.RawMessage `json:"config"`
}

// Host is the host probe.
type Host struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	Disk        string `json:"disk"`
	Hostname    string `json:"hostname,omitempty"`
	GoVersion   string `json:"go_version,omitempty"`
	// Additions to the contract's fields. PhysicalCores is 0 when unknown.
	PhysicalCores int `json:"physical_cores,omitempty"`
	// DiskFSType, DiskDevice and DiskMount describe the file system the
	// data directory is on (Disk says the same in one line); DiskModel
	// and DiskRotational describe the block device under it when sysfs
	// tells (nil: unknown, as for tmpfs or overlay).
	DiskFSType     string `json:"disk_fs_type,omitempty"`
	DiskDevice     string `json:"disk_device,omitempty"`
	DiskMount      string `json:"disk_mount,omitempty"`
	DiskModel      string `json:"disk_model,omitempty"`
	DiskRotational *bool  `json:"disk_rotational,omitempty"`
}

// Latency summarises a latency histogram in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	// Min and StdDev are additions to the contract's fields.
	Min    float64 `json:"min"`
	StdDev float64 `json:"stddev"`
}

// Second is one second of a point's time series, warm-up excluded.
type Second struct {
	T      float64 `json:"t_s"`    // seconds since measurement began at the end of this interval
	Ops    int64   `json:"ops"`    // successful operations completed in it
	Errors int64   `json:"errors"` // failed operations completed in it
	P50    float64 `json:"p50_ms"` // of operations completed in it
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	// Rate is the open-loop target rate in effect, 0 for closed loop.
	Rate float64 `json:"rate_ops_s,omitempty"`
}

// Point is one measured configuration. The first block of fields is the
// contract of docs/architecture.md, "Run schema".
type Point struct {
	Target      string   `json:"target"`
	Backend     string   `json:"backend"`
	Nodes       int      `json:"nodes"`
	NetDelayMs  float64  `json:"net_delay_ms"`
	DiskProfile string   `json:"disk_profile"`
	Emulated    []string `json:"emulated"`
	// Unsafe says why the point's log backend does not keep raft's
	// stable-storage rule (a backend whose registry entry is not durable:
	// async, memory); empty for safe ones.
	Unsafe     string  `json:"unsafe,omitempty"`
	Workload   string  `json:"workload"`
	Mode       string  `json:"mode"` // "closed" or "open"
	Clients    int     `json:"clients"`
	Conns      int     `json:"conns"`
	KeySize    int     `json:"key_size"`
	ValSize    int     `json:"val_size"`
	DurationS  float64 `json:"duration_s"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput_ops_s"`
	LatencyMs  Latency `json:"latency_ms"`
	// SyncsPerOp is the log syncs of all members together per operation.
	SyncsPerOp float64 `json:"syncs_per_op"`

	// Additions.
	// TLS says the clients and the members' peers spoke TLS (client
	// certificates required on both ports).
	TLS          bool             `json:"tls,omitempty"`
	RateOpsS     float64          `json:"rate_ops_s,omitempty"` // open-loop target rate
	KeySpace     int              `json:"key_space,omitempty"`
	WarmupS      float64          `json:"warmup_s,omitempty"`
	ErrorsByCode map[string]int64 `json:"errors_by_code,omitempty"`
	Series       []Second         `json:"series,omitempty"`
	// GeneratorCPUS and ServerCPUS are CPU seconds used during the
	// measured part of the run; ServerCPUS is 0 when unknown.
	GeneratorCPUS float64 `json:"generator_cpu_s,omitempty"`
	ServerCPUS    float64 `json:"server_cpu_s,omitempty"`
	// LogSyncs, LogBytesWritten and LogEntriesSaved are the raft log
	// backends' Stats summed over all members during the measured part of
	// the run (0 when the target cannot tell); LogSyncLatencyMs summarises
	// the sync latency histogram of those syncs (nil when unknown). For adr
	// the syncs are the drainer's disk syncs, off the write path.
	LogSyncs         uint64   `json:"log_syncs,omitempty"`
	LogBytesWritten  uint64   `json:"log_bytes_written,omitempty"`
	LogEntriesSaved  uint64   `json:"log_entries_saved,omitempty"`
	LogSyncLatencyMs *Latency `json:"log_sync_latency_ms,omitempty"`
	// FlushInstruction is the cache-line flush the adr backend used
	// ("clwb", "clflushopt", "clflush", "msync", "none", "portable").
	FlushInstruction string `json:"flush_instruction,omitempty"`
	// TxnConflicts counts compare-and-swaps whose compare failed.
	TxnConflicts int64 `json:"txn_conflicts,omitempty"`
	// CPUShared says GeneratorCPUS includes the servers' CPU, because they
	// ran in the generator's process (the inproc target).
	CPUShared bool `json:"cpu_shared,omitempty"`
	// The watch workload's point measures event delivery: Ops, Throughput,
	// LatencyMs, Series and the histogram count events delivered to
	// watchers (from the put's send to the watcher's receipt), and Errors
	// adds the missed and duplicated events to the failed puts. Watchers
	// is how many watched, WatchPuts how many measured puts succeeded,
	// WriteLatencyMs their latency.
	Watchers        int      `json:"watchers,omitempty"`
	WatchPuts       int64    `json:"watch_puts,omitempty"`
	WatchMissed     int64    `json:"watch_missed,omitempty"`
	WatchDuplicated int64    `json:"watch_duplicated,omitempty"`
	WriteLatencyMs  *Latency `json:"write_latency_ms,omitempty"`
	// HgrmFile names the percentile distribution file in the run directory;
	// Write fills it in.
	HgrmFile string `json:"hgrm,omitempty"`
	// HistogramB64 is the latency histogram (ns) in HdrHistogram's V2
	// compressed encoding, base64; Write fills it in from Histogram.
	HistogramB64 string `json:"histogram,omitempty"`

	// Histogram is the merged latency histogram in nanoseconds. Write saves
	// it; Read restores it.
	Histogram *hdrhistogram.Histogram `json:"-"`
}

// Modes of a point.
const (
	ModeClosed = "closed"
	ModeOpen   = "open"
)

// LatencyFromHistogram summarises h, which holds nanoseconds, in
// milliseconds. An empty histogram gives all zeros.
func LatencyFromHistogram(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Latency{
		Mean:   h.Mean() / 1e6,
		P50:    ms(h.ValueAtQuantile(50)),
		P90:    ms(h.ValueAtQuantile(90)),
		P99:    ms(h.ValueAtQuantile(99)),
		P999:   ms(h.ValueAtQuantile(99.9)),
		Max:    ms(h.Max()),
		Min:    ms(h.Min()),
		StdDev: h.StdDev() / 1e6,
	}
}
