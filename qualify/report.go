package qualify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/internal/mountinfo"
	"github.com/adrbench/adrbench/results"
)

// SchemaV1 is the schema string of qualify.json.
const SchemaV1 = "adrbench.qualify/v1"

// Files of a qualification's output directory.
const (
	ResultFile    = "qualify.json"
	ReportFile    = "report.html"
	HistogramsDir = "histograms"
)

// Report is the content of qualify.json. Schema, Host, Profile, Verdict
// and Checks (with their contract fields) are a contract for scripts; the
// rest are additions.
type Report struct {
	Schema  string  `json:"schema"`
	Host    Host    `json:"host"`
	Profile string  `json:"profile"`
	Verdict Verdict `json:"verdict"`
	Checks  []Check `json:"checks"`

	Started    time.Time `json:"started"`
	DurationS  float64   `json:"duration_s"`
	Git        string    `json:"git,omitempty"`
	Quick      bool      `json:"quick"`
	Dir        string    `json:"dir"`
	Peers      []string  `json:"peers,omitempty"`
	LogBackend string    `json:"log_backend"`
	// Limits bounded the measurements.
	Limits Limits `json:"limits"`
	// Thresholds is the whole profile the checks were judged by.
	Thresholds Profile `json:"profile_thresholds"`
	// E2E is every end-to-end tier's measurement.
	E2E []TierResult `json:"e2e_tiers,omitempty"`
	// Histograms are the raw latency histograms, also written as .hgrm
	// files under histograms/.
	Histograms []Histogram `json:"histograms,omitempty"`
	Notes      []string    `json:"notes,omitempty"`
}

// Host describes the server: the harness's host probe, plus what
// qualification read about the directory's file system, its device and
// persistent memory.
type Host struct {
	results.Host
	DirMount *mountinfo.Mount `json:"dir_mount,omitempty"`
	Device   *blockDev        `json:"dir_device,omitempty"`
	PMem     *pmemFacts       `json:"pmem,omitempty"`
}

// Histogram is one raw latency histogram of a check.
type Histogram struct {
	// Check is the check it stands behind; Name is its file stem.
	Check string `json:"check"`
	Name  string `json:"name"`
	Title string `json:"title"`
	Unit  string `json:"unit"`
	// File is the percentile distribution (milliseconds) under the
	// output directory; Encoded the histogram itself, HdrHistogram's V2
	// compressed encoding in base64.
	File    string `json:"hgrm"`
	Encoded string `json:"histogram"`

	h *hdrhistogram.Histogram
}

// Hist returns the decoded histogram (nanoseconds), nil if none.
func (h Histogram) Hist() *hdrhistogram.Histogram { return h.h }

// Failing lists the checks that failed, then those that warned.
func (r *Report) Failing() []Check {
	var out []Check
	for _, v := range []Verdict{Fail, Warn} {
		for _, c := range r.Checks {
			if c.Verdict == v {
				out = append(out, c)
			}
		}
	}
	return out
}

// Check finds a check by key (name, or name@peer).
func (r *Report) Check(key string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Key() == key {
			return c, true
		}
	}
	return Check{}, false
}

// prepareOut makes the output directory, refusing one that already holds a
// qualification so that none is overwritten by accident.
func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: --out %s: %w", ErrCannotRun, dir, unwrapPath(err))
	}
	if _, err := os.Stat(filepath.Join(dir, ResultFile)); err == nil {
		return fmt.Errorf("%w: --out %s already holds a %s", ErrCannotRun, dir, ResultFile)
	}
	probe, err := os.CreateTemp(dir, ".write-test-")
	if err != nil {
		return fmt.Errorf("%w: --out %s is not writable: %w", ErrCannotRun, dir, unwrapPath(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// WriteDir writes rep into dir: the histograms (histograms/NAME.hgrm, and
// encoded into the report), the figures, report.html and qualify.json,
// the last so that its presence marks a complete directory.
func WriteDir(dir string, rep *Report) error {
	if err := os.MkdirAll(filepath.Join(dir, HistogramsDir), 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	for i := range rep.Histograms {
		h := &rep.Histograms[i]
		if h.h == nil {
			continue
		}
		h.File = filepath.Join(HistogramsDir, h.Name+".hgrm")
		var buf bytes.Buffer
		// A scale of 1e6 prints milliseconds, as the run directories do.
		if _, err := h.h.PercentilesPrint(&buf, 5, 1e6); err != nil {
			return fmt.Errorf("%w: render %s: %w", ErrCannotRun, h.File, err)
		}
		if err := os.WriteFile(filepath.Join(dir, h.File), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("%w: %w", ErrCannotRun, err)
		}
		enc, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return fmt.Errorf("%w: encode %s: %w", ErrCannotRun, h.Name, err)
		}
		h.Encoded = base64.StdEncoding.EncodeToString(enc)
	}
	figs, err := drawReportFigures(dir, rep)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	if err := writeReportHTML(filepath.Join(dir, ReportFile), rep, figs); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode %s: %w", ErrCannotRun, ResultFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ResultFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	return nil
}

// ReadDir reads dir/qualify.json, decoding its histograms.
func ReadDir(dir string) (*Report, error) {
	data, err := os.ReadFile(filepath.Join(dir, ResultFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s", ErrResult, dir, ResultFile)
		}
		return nil, fmt.Errorf("%w: %w", ErrResult, err)
	}
	return DecodeReport(filepath.Join(dir, ResultFile), data)
}

// DecodeReport parses qualify.json content; name is used in errors.
func DecodeReport(name string, data []byte) (*Report, error) {
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrResult, name, err)
	}
	if rep.Schema != SchemaV1 {
		return nil, fmt.Errorf("%w: %s: schema %q (want %q)", ErrResult, name, rep.Schema, SchemaV1)
	}
	switch rep.Verdict {
	case Pass, Warn, Fail:
	default:
		return nil, fmt.Errorf("%w: %s: verdict %q (want pass, warn or fail)", ErrResult, name, rep.Verdict)
	}
	for i, c := range rep.Checks {
		switch c.Verdict {
		case Pass, Warn, Fail, Skip:
		default:
			return nil, fmt.Errorf("%w: %s: checks[%d] (%s): verdict %q", ErrResult, name, i, c.Name, c.Verdict)
		}
		if c.Name == "" || c.Unit == "" || c.Source == "" {
			return nil, fmt.Errorf("%w: %s: checks[%d]: name, unit and source are required", ErrResult, name, i)
		}
	}
	for i := range rep.Histograms {
		h := &rep.Histograms[i]
		if h.Encoded == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(h.Encoded)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: histogram %s: %w", ErrResult, name, h.Name, err)
		}
		if h.h, err = hdrhistogram.Decode(raw); err != nil {
			return nil, fmt.Errorf("%w: %s: histogram %s: %w", ErrResult, name, h.Name, err)
		}
	}
	return &rep, nil
}

// sanitize makes s usable in a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}
