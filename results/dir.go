package results

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// File names inside a run directory.
const (
	RunFile    = "run.json"
	PointsFile = "points.csv"
)

// DirName returns the conventional run directory name for a run called name
// started at t: "<UTC time>-<name>", sortable by time.
func DirName(t time.Time, name string) string {
	return t.UTC().Format("20060102T150405Z") + "-" + name
}

// Write validates r and writes it into dir (created if missing): run.json,
// points.csv and one .hgrm file per point with a histogram. It refuses a dir
// that already holds a run.json, so a run is never overwritten by accident.
// Write fills in each point's HgrmFile and HistogramB64.
func Write(dir string, r *Run) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: create %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, RunFile)); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	for i := range r.Points {
		p := &r.Points[i]
		if p.Histogram == nil {
			continue
		}
		p.HgrmFile = fmt.Sprintf("point-%03d.hgrm", i)
		var buf bytes.Buffer
		// Five ticks per half distance is HdrHistogram's usual resolution;
		// a scale of 1e6 writes milliseconds.
		if _, err := p.Histogram.PercentilesPrint(&buf, 5, 1e6); err != nil {
			return fmt.Errorf("results: render %s: %w", p.HgrmFile, err)
		}
		if err := writeFileSync(filepath.Join(dir, p.HgrmFile), buf.Bytes()); err != nil {
			return err
		}
		enc, err := p.Histogram.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("results: encode histogram of point %d: %w", i, err)
		}
		p.HistogramB64 = base64.StdEncoding.EncodeToString(enc)
	}
	if err := writeFileSync(filepath.Join(dir, PointsFile), pointsCSV(r.Points)); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encode run.json: %w", err)
	}
	// run.json goes last: its presence marks a complete directory.
	return writeFileSync(filepath.Join(dir, RunFile), append(js, '\n'))
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("results: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("results: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("results: close %s: %w", path, err)
	}
	return nil
}

// Read loads and validates the run in dir, restoring each point's Histogram
// and checking that the files run.json names exist.
func Read(dir string) (*Run, error) {
	data, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return Decode(dir, data)
}

// Decode parses run.json content; dir is where its .hgrm files are looked
// for ("" skips that check).
func Decode(dir string, data []byte) (*Run, error) {
	var r Run
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, RunFile, err)
	}
	if r.Schema != SchemaV1 {
		return nil, fmt.Errorf("%w: %q (want %q)", ErrSchema, r.Schema, SchemaV1)
	}
	for i := range r.Points {
		p := &r.Points[i]
		if p.HistogramB64 != "" {
			raw, err := base64.StdEncoding.DecodeString(p.HistogramB64)
			if err != nil {
				return nil, fmt.Errorf("points[%d]: %w: histogram: %v", i, ErrInvalid, err)
			}
			h, err := hdrhistogram.Decode(raw)
			if err != nil {
				return nil, fmt.Errorf("points[%d]: %w: histogram: %v", i, ErrInvalid, err)
			}
			p.Histogram = h
		}
		if dir != "" && p.HgrmFile != "" {
			if strings.ContainsAny(p.HgrmFile, `/\`) {
				return nil, fmt.Errorf("points[%d]: %w: hgrm %q is not a plain file name", i, ErrInvalid, p.HgrmFile)
			}
			if _, err := os.Stat(filepath.Join(dir, p.HgrmFile)); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("points[%d]: %w: hgrm file %s is missing", i, ErrInvalid, p.HgrmFile)
			}
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// csvHeader lists points.csv's columns; latency columns are milliseconds.
var csvHeader = []string{
	"target", "backend", "nodes", "net_delay_ms", "disk_profile", "emulated",
	"workload", "mode", "clients", "conns", "key_size", "val_size", "duration_s",
	"ops", "errors", "throughput_ops_s",
	"latency_mean_ms", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
	"latency_p999_ms", "latency_max_ms", "syncs_per_op", "rate_ops_s",
	"log_syncs", "log_entries_saved", "log_bytes_written", "log_sync_p50_ms", "log_sync_p99_ms",
	"generator_cpu_s", "server_cpu_s", "watchers", "watch_missed",
}

func pointsCSV(points []Point) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	// csv.Writer on a bytes.Buffer cannot fail; Flush's error is checked
	// below for form's sake.
	_ = w.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	d := strconv.Itoa
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, p := range points {
		// An unknown sync latency is an empty cell, not a zero.
		var syncP50, syncP99 string
		if l := p.LogSyncLatencyMs; l != nil {
			syncP50, syncP99 = f(l.P50), f(l.P99)
		}
		_ = w.Write([]string{
			p.Target, p.Backend, d(p.Nodes), f(p.NetDelayMs), p.DiskProfile, strings.Join(p.Emulated, ";"),
			p.Workload, p.Mode, d(p.Clients), d(p.Conns), d(p.KeySize), d(p.ValSize), f(p.DurationS),
			strconv.FormatInt(p.Ops, 10), strconv.FormatInt(p.Errors, 10), f(p.Throughput),
			f(p.LatencyMs.Mean), f(p.LatencyMs.P50), f(p.LatencyMs.P90), f(p.LatencyMs.P99),
			f(p.LatencyMs.P999), f(p.LatencyMs.Max), f(p.SyncsPerOp), f(p.RateOpsS),
			u(p.LogSyncs), u(p.LogEntriesSaved), u(p.LogBytesWritten), syncP50, syncP99,
			f(p.GeneratorCPUS), f(p.ServerCPUS), d(p.Watchers), strconv.FormatInt(p.WatchMissed, 10),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		panic("results: csv to memory failed: " + err.Error()) // broken invariant
	}
	return buf.Bytes()
}
