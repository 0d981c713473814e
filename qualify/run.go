package qualify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/adrbench/adrbench/logbackends/vfs"
)

// workPrefix names the temporary directory Run makes inside Config.Dir.
const workPrefix = ".adrbench-qualify-"

// runner is one qualification in progress.
type runner struct {
	cfg     Config
	prof    Profile
	dur     Limits
	work    string // the temporary directory inside cfg.Dir
	fs      vfs.FS
	prog    *progress
	started time.Time
	cpu0    cpuTimes

	host   Host
	checks []Check
	hists  []Histogram
	e2e    []TierResult
}

// Run qualifies this server as cfg says and returns the report; with
// cfg.Out set it also writes qualify.json, the histograms, the figures and
// report.html there. Checks run group by group (Groups); a check that
// cannot measure what it should fails or skips with its reason, and the
// others still run.
//
// Everything Run writes into cfg.Dir lives in one temporary directory that
// is removed before Run returns, whether it succeeds, fails or is
// cancelled. Errors wrap ErrConfig, ErrProfile or ErrPeer for a bad
// config, and ErrCannotRun when the directory cannot be used, the output
// cannot be written or ctx ended the run.
func Run(ctx context.Context, cfg Config) (_ *Report, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dur := cfg.Limits
	if dur == (Limits{}) {
		dur = FullLimits()
		if cfg.Quick {
			dur = QuickLimits()
		}
	}
	if err := CheckDir(cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Out != "" {
		if err := prepareOut(cfg.Out); err != nil {
			return nil, err
		}
	}
	removed := removeAbandoned(cfg.Dir)
	work, err := os.MkdirTemp(cfg.Dir, workPrefix)
	if err != nil {
		return nil, fmt.Errorf("%w: --dir %s is not writable: %w", ErrCannotRun, cfg.Dir, unwrapPath(err))
	}
	defer func() {
		if rerr := removeWork(work); rerr != nil {
			err = errors.Join(err, fmt.Errorf("%w: removing %s: %w", ErrCannotRun, work, rerr))
		}
	}()
	if err := os.WriteFile(filepath.Join(work, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("%w: --dir %s: %w", ErrCannotRun, cfg.Dir, unwrapPath(err))
	}

	r := &runner{cfg: cfg, prof: cfg.Profile, dur: dur, work: work, fs: cfg.FS, prog: newProgress(cfg.Progress), started: time.Now()}
	if r.fs == nil {
		r.fs = vfs.OS{}
	}
	defer r.prog.end()
	r.cpu0 = readCPUTimes(ctx)
	r.host = Host{Host: probeHost(ctx, cfg.Dir)}
	groups := map[string]func(context.Context) error{
		GroupDisk: r.diskGroup, GroupPMem: r.pmemGroup, GroupCPU: r.cpuGroup, GroupMemory: r.memoryGroup,
		GroupNet: r.netGroup, GroupClock: r.clockGroup, GroupE2E: r.e2eGroup,
	}
	for _, g := range Groups() {
		if slices.Contains(cfg.Skip, g) {
			for _, d := range checkDefs() {
				if strings.HasPrefix(d.name, g+".") {
					r.add(skipped(r.prof, d.name, "group "+g+" skipped on request"))
				}
			}
			continue
		}
		if err := groups[g](ctx); err != nil || ctx.Err() != nil {
			return nil, fmt.Errorf("%w: interrupted during the %s checks: %w", ErrCannotRun, g, errors.Join(err, context.Cause(ctx)))
		}
	}
	rep := r.report()
	for _, d := range removed {
		rep.Notes = append(rep.Notes, "removed "+d+", left in --dir by a qualification that was killed")
	}
	if cfg.Out != "" {
		if err := WriteDir(cfg.Out, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// CheckDir says why dir cannot be qualified, nil if it can: it must exist,
// be a directory and take a new entry (one is made and removed).
func CheckDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: --dir %s does not exist", ErrCannotRun, dir)
	case err != nil:
		return fmt.Errorf("%w: --dir %s: %w", ErrCannotRun, dir, unwrapPath(err))
	case !st.IsDir():
		return fmt.Errorf("%w: --dir %s is not a directory", ErrCannotRun, dir)
	}
	probe, err := os.MkdirTemp(dir, workPrefix)
	if err != nil {
		return fmt.Errorf("%w: --dir %s is not writable: %w", ErrCannotRun, dir, unwrapPath(err))
	}
	return os.Remove(probe)
}

// add records a finished check and shows it. A value that is not a
// number (a division by a zero that should not happen) is kept out of
// qualify.json, which JSON could not encode, and fails the check.
func (r *runner) add(c Check) {
	if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
		c.Reason = strings.TrimPrefix(c.Reason+"; the measured value is not a number ("+strconv.FormatFloat(c.Value, 'g', -1, 64)+")", "; ")
		c.Value, c.Verdict = 0, Fail
	}
	for k, v := range c.Details {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(c.Details, k)
		}
	}
	r.checks = append(r.checks, c)
	r.prog.clear()
	if r.cfg.OnCheck != nil {
		r.cfg.OnCheck(c)
	}
}

// addHist keeps a raw histogram for the output directory.
func (r *runner) addHist(check, name, title string, h *hdrhistogram.Histogram) {
	r.hists = append(r.hists, Histogram{Check: check, Name: name, Title: title, Unit: "ns", h: h})
}

func (r *runner) sinceStart() time.Duration { return time.Since(r.started) }

// report assembles the result.
func (r *runner) report() *Report {
	rep := &Report{
		Schema:     SchemaV1,
		Host:       r.host,
		Profile:    r.prof.Name,
		Verdict:    Worst(r.checks),
		Checks:     r.checks,
		Started:    r.started.UTC(),
		DurationS:  time.Since(r.started).Seconds(),
		Git:        vcsRevision(),
		Quick:      r.cfg.Quick,
		Dir:        absPath(r.cfg.Dir),
		Peers:      r.cfg.Peers,
		LogBackend: r.cfg.LogBackend,
		Limits:     r.dur,
		Thresholds: r.prof,
		E2E:        r.e2e,
		Histograms: r.hists,
	}
	if len(r.e2e) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("end to end: each tier measured for %v after %v of warm-up, on a fresh one-member adrbench (%s target, %s log backend); etcdctl check perf runs 60 s per tier",
			r.dur.E2ETier, r.dur.E2EWarmup, r.cfg.E2ETarget, r.cfg.LogBackend))
	}
	if !slices.Contains(r.cfg.Skip, GroupDisk) {
		rep.Notes = append(rep.Notes, fmt.Sprintf("disk: %d rounds of the WAL pattern of at most %v and %d MiB each (Go, and fio's 22 MiB job when present, interleaved); 8000-byte pattern at most %v and %d MiB; commit pattern %v in a %d MiB file",
			r.dur.DiskRounds, r.dur.DiskRound, r.dur.WALBytes>>20, r.dur.Disk8k, r.dur.WAL8kBytes>>20, r.dur.Commit, r.dur.CommitFile>>20))
	}
	if r.cfg.Quick {
		rep.Notes = append(rep.Notes, "quick run (--quick): shortened measurements; a full run measures longer and its tails are steadier")
	}
	return rep
}

// ownerFile, in the temporary directory, holds the process id of the
// qualification that made it.
const ownerFile = "owner.pid"

// removeAbandoned removes the temporary directories that qualifications
// killed with SIGKILL (the one way not to clean up) left in dir: those
// whose owner process no longer exists. It returns their names. A
// directory without a readable owner, or whose owner still runs, is left
// alone: it may belong to a qualification running now.
func removeAbandoned(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), workPrefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(filepath.Join(path, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		if removeWork(path) == nil {
			removed = append(removed, path)
		}
	}
	return removed
}

// removeWork removes the temporary directory and the emulated regions of
// the end-to-end members that lived in it.
func removeWork(work string) error {
	var errs []error
	ents, _ := os.ReadDir(work)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "e2e-") {
			errs = append(errs, removeMemberRegions(filepath.Join(work, e.Name())))
		}
	}
	return errors.Join(append(errs, os.RemoveAll(work))...)
}

// unwrapPath drops the *PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// vcsRevision is the revision stamped into the binary, "" if none.
func vcsRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}
