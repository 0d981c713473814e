package qualify

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/adrbench/adrbench/internal/mountinfo"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// openShiftJobBytes bounds the 8000-byte pattern, as OpenShift's job
// (--size=100m) does.
const openShiftJobBytes = 100 << 20

// diskGroup measures the WAL and commit patterns on the directory and reads
// what decides whether the numbers can be trusted: the file system, its
// mount options and the device under it.
func (r *runner) diskGroup(ctx context.Context) error {
	dir := filepath.Join(r.work, "disk")
	if err := r.fs.MkdirAll(dir, 0o700); err != nil {
		return r.diskUnmeasurable(fmt.Sprintf("cannot create %s: %v", dir, err))
	}
	fio, fioWhyNot := r.fioPath()
	// Go and fio write the same file name in the same directory, one after
	// the other, so that the file system gives both the same blocks: on a
	// thin-provisioned virtual disk, blocks not written lately cost far
	// more than blocks written a second ago, and files in two directories
	// land in two block groups. Measured on a cloud VM, that alone put the
	// two p99s 15-75% apart; in one directory, within 5-15%.
	walDir := dir

	// The WAL pattern, Go and fio rounds interleaved (ABBA: Go first in
	// even rounds, fio first in odd ones), so that both see the same disk
	// as it drifts and their medians compare like with like.
	wal := syncRun{Hist: newLatencyHistogram()}
	var goP99s, fioP99s []float64
	var goRounds, fioRounds []logCounts
	var fioRuns []fioResult
	var walErr error
	rounds := r.dur.DiskRounds
	goRound := func(i int) error {
		label := fmt.Sprintf("disk: WAL pattern, 2300-byte writes + fdatasync, Go round %d/%d", i+1, rounds)
		r.prog.begin(label, r.dur.DiskRound)
		run, err := walRound(ctx, r.fs, filepath.Join(walDir, fioJobFile), walBlock, r.dur.WALBytes, r.dur.DiskRound,
			func(s syncRun) {
				r.prog.detail("%d syncs, p99 %s ms", s.Ops, formatNumber(ms(s.Hist.ValueAtQuantile(99))))
			})
		r.prog.end()
		if err != nil {
			return err
		}
		wal.Hist.Merge(run.Hist)
		wal.Ops += run.Ops
		wal.Elapsed += run.Elapsed
		goP99s = append(goP99s, ms(run.Hist.ValueAtQuantile(99)))
		goRounds = append(goRounds, toLogCounts(run.Hist))
		return nil
	}
	fioRound := func(i int) {
		if fio == "" || fioWhyNot != "" {
			return
		}
		r.prog.begin(fmt.Sprintf("disk: fio with etcd's job, round %d/%d", i+1, rounds), r.dur.DiskRound+time.Second)
		res, err := runFio(ctx, fio, walDir, r.dur.DiskRound)
		r.prog.end()
		if err != nil {
			if ctx.Err() == nil {
				fioWhyNot = "fio failed: " + err.Error()
			}
			return
		}
		fioRuns = append(fioRuns, res)
		fioP99s = append(fioP99s, res.P99Ms)
		if res.Hist != nil {
			fioRounds = append(fioRounds, toLogCounts(res.Hist))
		}
	}
	for i := range rounds {
		if i%2 == 1 {
			fioRound(i)
		}
		if walErr = goRound(i); walErr != nil {
			break
		}
		if i%2 == 0 {
			fioRound(i)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if walErr != nil {
		r.add(failed(r.prof, "disk.wal_fdatasync_p99", "could not measure: "+walErr.Error()))
		r.add(failed(r.prof, "disk.wal_iops", "could not measure: "+walErr.Error()))
	} else {
		r.addHist("disk.wal_fdatasync_p99", "wal-fdatasync", "fdatasync after each 2300-byte sequential write (Go)", wal.Hist)
		c := judge(r.prof, "disk.wal_fdatasync_p99", ms(wal.Hist.ValueAtQuantile(99)))
		c.Details = latencyDetails(wal)
		c.Details["median_round_p99_ms"] = median(goP99s)
		c.Text = fmt.Sprintf("p50 %s ms, p99.9 %s ms, max %s ms over %d syncs", formatNumber(c.Details["p50_ms"]),
			formatNumber(c.Details["p999_ms"]), formatNumber(c.Details["max_ms"]), wal.Ops)
		r.add(c)
		c = judge(r.prof, "disk.wal_iops", wal.iops())
		c.Details = map[string]float64{"writes": float64(wal.Ops), "seconds": wal.Elapsed.Seconds()}
		r.add(c)
	}
	r.fioChecks(fioRuns, fioP99s, goP99s, wal.Hist, goRounds, fioRounds, fioWhyNot, walErr)

	r.prog.begin("disk: WAL pattern, 8000-byte writes + fdatasync", r.dur.Disk8k)
	wal8k, err := walRound(ctx, r.fs, filepath.Join(dir, "wal8k.go"), wal8kBlock, r.dur.WAL8kBytes, r.dur.Disk8k,
		func(s syncRun) { r.prog.detail("%d syncs", s.Ops) })
	r.prog.end()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		r.add(failed(r.prof, "disk.wal8k_fdatasync_p99", "could not measure: "+err.Error()))
		r.add(failed(r.prof, "disk.wal8k_iops", "could not measure: "+err.Error()))
	} else {
		r.addHist("disk.wal8k_fdatasync_p99", "wal8k-fdatasync", "fdatasync after each 8000-byte sequential write (Go)", wal8k.Hist)
		c := judge(r.prof, "disk.wal8k_fdatasync_p99", ms(wal8k.Hist.ValueAtQuantile(99)))
		c.Details = latencyDetails(wal8k)
		r.add(c)
		c = judge(r.prof, "disk.wal8k_iops", wal8k.iops())
		c.Details = map[string]float64{"writes": float64(wal8k.Ops), "seconds": wal8k.Elapsed.Seconds()}
		r.add(c)
	}

	r.prog.begin(fmt.Sprintf("disk: backend-commit pattern, %d random 4 KiB pages + fdatasync + meta page + fdatasync", commitPages), r.dur.Commit)
	commit, err := commitRun(ctx, r.fs, filepath.Join(dir, "commit.go"), r.dur.CommitFile, r.dur.Commit,
		func(s syncRun) { r.prog.detail("%d commits", s.Ops) })
	r.prog.end()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		r.add(failed(r.prof, "disk.commit_p99", "could not measure: "+err.Error()))
	} else {
		r.addHist("disk.commit_p99", "commit", fmt.Sprintf("backend commit: %d random 4 KiB pages, fdatasync, meta page, fdatasync (Go)", commitPages), commit.Hist)
		c := judge(r.prof, "disk.commit_p99", ms(commit.Hist.ValueAtQuantile(99)))
		c.Details = latencyDetails(commit)
		c.Details["commits_per_s"] = commit.iops()
		r.add(c)
	}
	r.diskFacts(walErr == nil, ms(wal.Hist.ValueAtQuantile(50)))
	return nil
}

// fioPath finds fio, or says why fio is not run.
func (r *runner) fioPath() (string, string) {
	if _, real := r.fs.(vfs.OS); !real {
		return "", "the disk checks write through an injected file system, which fio cannot see"
	}
	if r.cfg.Fio != "" {
		return r.cfg.Fio, ""
	}
	p, err := exec.LookPath("fio")
	if err != nil {
		return "", "fio is not on PATH (Debian: apt-get install fio)"
	}
	return p, ""
}

// fioChecks reports fio's figure and how far Go's is from it. Both are
// pooled over the interleaved rounds (fio's own latency bins merged as
// Go's histograms are), which is steadier than any one round's tail; the
// medians of the rounds' p99s are in the details.
func (r *runner) fioChecks(runs []fioResult, fioP99s, goP99s []float64, goHist *hdrhistogram.Histogram, goRounds, fioRounds []logCounts, whyNot string, walErr error) {
	if len(runs) == 0 {
		if whyNot == "" {
			whyNot = "fio did not run"
		}
		r.add(skipped(r.prof, "disk.fio_wal_fdatasync_p99", whyNot))
		r.add(skipped(r.prof, "disk.go_fio_disagreement", whyNot))
		return
	}
	var iops, p50s []float64
	var syncs int64
	maxMs := 0.0
	pooled := newLatencyHistogram()
	for _, f := range runs {
		iops, p50s = append(iops, f.IOPS), append(p50s, f.P50Ms)
		syncs += f.Syncs
		maxMs = max(maxMs, f.MaxMs)
		if f.Hist != nil {
			pooled.Merge(f.Hist)
		}
	}
	fioP99 := median(fioP99s)
	how := "median of the rounds' p99"
	if pooled.TotalCount() > 0 {
		fioP99, how = ms(pooled.ValueAtQuantile(99)), "pooled over the rounds"
		r.addHist("disk.fio_wal_fdatasync_p99", "wal-fdatasync-fio", "fdatasync after each 2300-byte sequential write (fio)", pooled)
	}
	c := judge(r.prof, "disk.fio_wal_fdatasync_p99", fioP99)
	c.Details = map[string]float64{"median_round_p99_ms": median(fioP99s), "median_round_p50_ms": median(p50s), "max_ms": maxMs,
		"median_round_iops": median(iops), "syncs": float64(syncs), "rounds": float64(len(runs))}
	c.Text = fmt.Sprintf("%s, %d syncs in %d rounds of fio %s", how, syncs, len(runs), strings.Join(fioArgs("DIR", r.dur.DiskRound)[2:7], " "))
	if whyNot != "" {
		c.Reason = "later rounds: " + whyNot
	}
	r.add(c)
	if walErr != nil || len(goP99s) == 0 {
		r.add(skipped(r.prof, "disk.go_fio_disagreement", "the Go measurement failed"))
		return
	}
	if !(fioP99 > 0) {
		r.add(skipped(r.prof, "disk.go_fio_disagreement", "fio reported no fdatasync latency"))
		return
	}
	g := ms(goHist.ValueAtQuantile(99))
	if len(fioRounds) != len(runs) {
		fioRounds = nil // fio printed no latency bins: no interval
	}
	d := agreementCheck(r.prof, g, fioP99, goRounds, fioRounds)
	d.Details["go_median_round_p99_ms"], d.Details["fio_median_round_p99_ms"] = median(goP99s), median(fioP99s)
	d.Text = fmt.Sprintf("fdatasync p99: Go %s ms, fio %s ms (%s, %d rounds each, interleaved); medians of the rounds' p99: Go %s ms, fio %s ms",
		formatNumber(g), formatNumber(fioP99), how, len(goP99s), formatNumber(median(goP99s)), formatNumber(median(fioP99s)))
	if lo, ok := d.Details["ratio_p5"]; ok {
		hi := d.Details["ratio_p95"]
		d.Text += fmt.Sprintf("; Go/fio with the rounds resampled: %s to %s (90%%)", formatNumber(lo), formatNumber(hi))
	}
	r.add(d)
}

// diskFacts reports the file system, its options, the device and free
// space. walP50 is the measured fdatasync median, if measured: a device
// that reports itself rotational but syncs faster than any spinning disk
// can is taken by its measurement.
func (r *runner) diskFacts(measured bool, walP50Ms float64) {
	m, err := mountinfo.OfDir(r.cfg.Dir)
	if err != nil {
		why := "cannot read /proc/self/mountinfo: " + err.Error()
		for _, n := range []string{"disk.fs_durable", "disk.barriers", "disk.data_ordering", "disk.write_cache", "disk.rotational"} {
			r.add(skipped(r.prof, n, why))
		}
	} else {
		r.host.DirMount = &m
		desc := fmt.Sprintf("%s %s on %s", m.FSType, m.Source, m.Point)
		c := judge(r.prof, "disk.fs_durable", boolValue(!volatileFS(m.FSType)))
		c.Text = desc
		r.add(c)

		off := barriersOff(m)
		c = judge(r.prof, "disk.barriers", boolValue(off == ""))
		c.Text = "mount options " + strings.Join(m.Options, ",") + "; file system options " + strings.Join(m.SuperOptions, ",")
		if off != "" {
			c.Reason = off + ": " + c.Reason
		}
		r.add(c)

		mode, hasMode := m.OptionValue("data")
		c = judge(r.prof, "disk.data_ordering", boolValue(mode != "writeback"))
		if hasMode {
			c.Text = "data=" + mode
		} else {
			c.Text = "no data= option (the file system's default)"
		}
		r.add(c)

		dev, ok := blockDevOf("/sys", m)
		switch {
		case !ok:
			why := fmt.Sprintf("%s on %s has no block device in sysfs (%s)", m.FSType, m.Point, m.MajorMinor)
			r.add(skipped(r.prof, "disk.write_cache", why))
			r.add(skipped(r.prof, "disk.rotational", why))
		default:
			r.host.Device = &dev
			r.add(writeCacheCheck(r.prof, dev, off))
			r.add(rotationalCheck(r.prof, dev, measured, walP50Ms))
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(r.cfg.Dir, &st); err != nil {
		r.add(skipped(r.prof, "disk.free_space", "statfs: "+err.Error()))
		return
	}
	free := float64(st.Bavail) * float64(st.Bsize) / (1 << 30)
	c := judge(r.prof, "disk.free_space", free)
	c.Text = fmt.Sprintf("planned database %s GiB (%s)", formatNumber(float64(r.prof.PlannedDBBytes)/(1<<30)), r.prof.PlannedDBSource)
	r.add(c)
}

// writeCacheCheck judges the device's write cache: a volatile ("write
// back") cache is safe while the kernel sends it flushes, which a
// barrier-off mount option stops.
func writeCacheCheck(p Profile, dev blockDev, barrierOff string) Check {
	switch dev.WriteCache {
	case "write through":
		c := judge(p, "disk.write_cache", 1)
		c.Text = dev.Name + ": write through (no volatile cache)"
		return c
	case "write back":
		c := judge(p, "disk.write_cache", boolValue(barrierOff == ""))
		c.Text = dev.Name + ": write back, flushed by fdatasync"
		if barrierOff != "" {
			c.Text = dev.Name + ": write back, not flushed (" + barrierOff + ")"
			c.Reason = "a volatile write cache and " + barrierOff + ": fdatasync returns before the data is stable"
		}
		return c
	}
	return skipped(p, "disk.write_cache", fmt.Sprintf("%s: sysfs queue/write_cache is %q", dev.Name, dev.WriteCache))
}

// spinningSyncFloorMs is the least a spinning disk takes to make a small
// write durable: at 15,000 rpm a turn is 4 ms, on average half a turn
// plus the write.
const spinningSyncFloorMs = 1.0

func rotationalCheck(p Profile, dev blockDev, measured bool, walP50Ms float64) Check {
	if dev.Rotational == nil {
		return skipped(p, "disk.rotational", dev.Name+": sysfs has no queue/rotational")
	}
	c := judge(p, "disk.rotational", boolValue(*dev.Rotational))
	c.Text = dev.Name
	if dev.Model != "" {
		c.Text += " (" + dev.Model + ")"
	}
	if *dev.Rotational && measured && walP50Ms < spinningSyncFloorMs {
		c.Verdict = Pass
		c.Reason = fmt.Sprintf("the device reports rotational, but its fdatasync p50 is %s ms, faster than any spinning disk: "+
			"the flag is not the medium's (virtual disks report rotational by default)", formatNumber(walP50Ms))
	}
	return c
}

// diskUnmeasurable fails every measured disk check for one reason.
func (r *runner) diskUnmeasurable(reason string) error {
	for _, n := range []string{"disk.wal_fdatasync_p99", "disk.wal_iops", "disk.wal8k_fdatasync_p99", "disk.wal8k_iops", "disk.commit_p99"} {
		r.add(failed(r.prof, n, reason))
	}
	r.add(skipped(r.prof, "disk.fio_wal_fdatasync_p99", reason))
	r.add(skipped(r.prof, "disk.go_fio_disagreement", reason))
	r.diskFacts(false, 0)
	return nil
}

// latencyDetails summarises a run's histogram in milliseconds.
func latencyDetails(s syncRun) map[string]float64 {
	h := s.Hist
	return map[string]float64{
		"p50_ms": ms(h.ValueAtQuantile(50)), "p99_ms": ms(h.ValueAtQuantile(99)),
		"p999_ms": ms(h.ValueAtQuantile(99.9)), "max_ms": ms(h.Max()),
		"samples": float64(h.TotalCount()), "iops": s.iops(),
	}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// median of xs (0 for none); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
