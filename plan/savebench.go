package plan

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// saveQuantiles is how many quantiles a calibrated Save distribution keeps.
const saveQuantiles = 101

// saveBench measures one backend on one disk profile the way its raft loop
// uses it: one writer, Saves of entries with a HardState, synced. It
// times Saves of one entry (the distribution) and of batch entries (the
// increment per entry), and the process's CPU over each phase, drainer or
// syncer included (the backend is closed inside the phase).
type saveBench struct {
	registry *logbackends.Registry
	dir      string // a directory on the disk to measure
	entry    int    // bytes of an entry
	batch    int
	// budget bounds each phase; samples caps its Saves.
	budget  time.Duration
	samples int
}

func (sb saveBench) run(backend, profile string) (SaveCal, error) {
	p, err := diskprofile.Lookup(profile)
	if err != nil {
		return SaveCal{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	one, cpu1, n1, err := sb.phase(backend, p, 1)
	if err != nil {
		return SaveCal{}, err
	}
	many, cpuB, nB, err := sb.phase(backend, p, sb.batch)
	if err != nil {
		return SaveCal{}, err
	}
	slices.Sort(one)
	cal := SaveCal{Backend: backend, Profile: profile, Samples: len(one)}
	cal.Quantiles = make([]float64, saveQuantiles)
	for i := range cal.Quantiles {
		cal.Quantiles[i] = quantile(one, float64(i)/float64(saveQuantiles-1))
	}
	cal.Mean, cal.P99 = mean(one), quantile(one, 0.99)
	k := float64(sb.batch - 1)
	cal.PerEntry = max(0, (mean(many)-cal.Mean)/k)
	perCall1 := cpu1 / float64(n1)
	perCallB := cpuB / float64(nB)
	cal.CPUEntry = max(0, (perCallB-perCall1)/k)
	cal.CPUCall = max(0, perCall1-cal.CPUEntry)
	return cal, nil
}

// phase opens a fresh backend, Saves batch entries at a time until the
// budget or the sample cap, closes it, and returns the Save latencies (s)
// and the CPU the process used (s) over the Saves and the Close.
func (sb saveBench) phase(backend string, p diskprofile.Profile, batch int) ([]float64, float64, int, error) {
	dir, err := os.MkdirTemp(sb.dir, "save-"+backend+"-")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	defer func() {
		_ = sb.registry.Destroy(backend, dir)
		os.RemoveAll(dir)
	}()
	be, err := sb.registry.Open(backend, logbackends.Env{Dir: dir, FS: diskprofile.Wrap(vfs.OS{}, p)})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: open %s: %w", ErrCalibration, backend, err)
	}
	data := make([]byte, sb.entry)
	typ := raftpb.EntryNormal
	term := uint64(1)
	next := uint64(1)
	ents := make([]*raftpb.Entry, batch)
	var lats []float64
	cpu0 := processCPU()
	start := time.Now()
	for time.Since(start) < sb.budget && len(lats) < sb.samples || len(lats) < 2 {
		for k := range ents {
			ents[k] = &raftpb.Entry{Index: new(next), Term: &term, Type: &typ, Data: data}
			next++
		}
		hs := &raftpb.HardState{Term: &term, Vote: new(uint64(1)), Commit: new(next - 1)}
		t0 := time.Now()
		if err := be.Save(hs, ents, nil, true); err != nil {
			be.Close()
			return nil, 0, 0, fmt.Errorf("%w: %s Save: %w", ErrCalibration, backend, err)
		}
		lats = append(lats, time.Since(t0).Seconds())
	}
	if err := be.Close(); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: close %s: %w", ErrCalibration, backend, err)
	}
	return lats, (processCPU() - cpu0).Seconds(), len(lats), nil
}

// contention measures how the native disk's sync slows when w writers
// sync at once, each on a backend of its own (members of one machine):
// the mean one-entry Save latency of backend with w writers over that with
// one.
func (sb saveBench) contention(backend string, writers []int) ([]ContentionPoint, error) {
	native, err := diskprofile.Lookup(diskprofile.Native)
	if err != nil {
		return nil, err
	}
	var base float64
	var out []ContentionPoint
	for _, w := range writers {
		var (
			mu   sync.Mutex
			all  []float64
			errs []error
			wg   sync.WaitGroup
		)
		for range w {
			wg.Go(func() {
				lats, _, _, err := sb.phase(backend, native, 1)
				mu.Lock()
				defer mu.Unlock()
				all = append(all, lats...)
				errs = append(errs, err)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		m := mean(all)
		if w == writers[0] {
			base = m
		}
		out = append(out, ContentionPoint{Writers: w, Factor: max(1, m/base)})
	}
	return out, nil
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (x-float64(i))*(sorted[i+1]-sorted[i])
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// processCPU is the user plus system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
