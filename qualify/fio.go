package qualify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// fioJobFile is the file fio's job named "etcd" writes in its directory.
const fioJobFile = "etcd.0.0"

// fioResult is what one run of etcd's fio job measured.
type fioResult struct {
	Syncs int64   // fdatasync calls
	P50Ms float64 // fdatasync latency percentiles
	P99Ms float64
	P999  float64
	MaxMs float64
	IOPS  float64 // writes per second
	// Hist holds fio's own latency bins of the fdatasyncs (ns), from
	// --output-format=json+, so rounds can be pooled as Go's are.
	Hist *hdrhistogram.Histogram
}

// fioArgs is etcd's fio job on dir (--rw=write --ioengine=sync
// --fdatasync=1 --size=22m --bs=2300), bounded to d of runtime so that
// rounds interleave with Go's, with JSON output that includes the latency
// bins (json+).
func fioArgs(dir string, d time.Duration) []string {
	return []string{
		"--name=etcd", "--directory=" + dir,
		"--rw=write", "--ioengine=sync", "--fdatasync=1", "--size=22m", "--bs=2300",
		"--runtime=" + strconv.FormatInt(max(1, d.Milliseconds()), 10) + "ms",
		"--output-format=json+",
	}
}

// runFio runs etcd's job in dir and removes the file it wrote, so every
// round starts from a fresh file as Go's do.
func runFio(ctx context.Context, fio, dir string, d time.Duration) (fioResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fioResult{}, err
	}
	defer os.Remove(filepath.Join(dir, fioJobFile))
	cmd := exec.CommandContext(ctx, fio, fioArgs(dir, d)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fioResult{}, fmt.Errorf("%s: %w: %s", fio, err, lastLine(stderr.String()))
	}
	return parseFio(stdout.Bytes())
}

// parseFio reads fio's JSON output: jobs[0].sync.lat_ns (the fdatasync
// latency, not the write latency an older OpenShift script read) and
// jobs[0].write.iops. fio may print notes before the JSON.
func parseFio(out []byte) (fioResult, error) {
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	var doc struct {
		Jobs []struct {
			Error int `json:"error"`
			Write struct {
				IOPS float64 `json:"iops"`
			} `json:"write"`
			Sync struct {
				Lat struct {
					N          int64              `json:"N"`
					Max        float64            `json:"max"`
					Percentile map[string]float64 `json:"percentile"`
					Bins       map[string]int64   `json:"bins"`
				} `json:"lat_ns"`
			} `json:"sync"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return fioResult{}, fmt.Errorf("fio output is not JSON: %w", err)
	}
	if len(doc.Jobs) == 0 {
		return fioResult{}, errors.New("fio output has no jobs")
	}
	j := doc.Jobs[0]
	if j.Error != 0 {
		return fioResult{}, fmt.Errorf("fio job failed with error %d", j.Error)
	}
	pct := func(key string) (float64, error) {
		v, ok := j.Sync.Lat.Percentile[key]
		if !ok {
			return 0, fmt.Errorf("fio output lacks jobs[0].sync.lat_ns.percentile[%q]: no fdatasync was timed", key)
		}
		return v / 1e6, nil
	}
	var r fioResult
	var err error
	if r.P99Ms, err = pct("99.000000"); err != nil {
		return fioResult{}, err
	}
	if r.P50Ms, err = pct("50.000000"); err != nil {
		return fioResult{}, err
	}
	r.P999, _ = pct("99.900000")
	r.Syncs, r.MaxMs, r.IOPS = j.Sync.Lat.N, j.Sync.Lat.Max/1e6, j.Write.IOPS
	if len(j.Sync.Lat.Bins) > 0 {
		r.Hist = newLatencyHistogram()
		for k, n := range j.Sync.Lat.Bins {
			v, err := strconv.ParseInt(k, 10, 64)
			if err != nil || v < 0 || n < 0 {
				return fioResult{}, fmt.Errorf("fio output: bad latency bin %q: %d", k, n)
			}
			if err := r.Hist.RecordValues(max(v, 1), n); err != nil {
				return fioResult{}, fmt.Errorf("fio output: latency bin %q: %w", k, err)
			}
		}
	}
	return r, nil
}

// lastLine is the last non-empty line of s, for one-line errors.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
