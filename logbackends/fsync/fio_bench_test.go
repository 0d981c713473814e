package fsync

import (
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/adrbench/adrbench/logbackends"
)

// fioSize and fioBlock are the fio job etcd recommends for qualifying WAL
// disks: sequential 2300-byte writes, each followed by fdatasync.
const (
	fioSize  = 22 << 20
	fioBlock = 2300
)

// BenchmarkAgainstFio puts the fsync backend next to fio on the same file
// system in the same run: each iteration runs the fio job, then makes one
// Save per 2300-byte entry (with its HardState, as a follower's Ready
// carries) for as many entries as fio wrote blocks, in fresh directories.
// It reports both rates and their ratio (median over iterations; run with
// -benchtime=7x). The ratio says how much of the device's fdatasync rate
// the backend's code leaves on the table.
func BenchmarkAgainstFio(b *testing.B) {
	if _, err := exec.LookPath("fio"); err != nil {
		b.Skip("fio is not on PATH (scripts/test.sh installs it)")
	}
	n := fioSize / fioBlock
	var fios, ours, ratios []float64
	for i := 0; i < b.N; i++ {
		// The device's rate drifts; alternating who goes first keeps the
		// drift out of the ratio's median.
		var f, o float64
		if i%2 == 0 {
			f = runFio(b, b.TempDir())
			o = saveEntries(b, b.TempDir(), n)
		} else {
			o = saveEntries(b, b.TempDir(), n)
			f = runFio(b, b.TempDir())
		}
		b.Logf("round %d: fio %.0f IOPS, ours %.0f entries/s, ours/fio %.2f", i+1, f, o, o/f)
		fios, ours, ratios = append(fios, f), append(ours, o), append(ratios, o/f)
	}
	b.ReportMetric(median(fios), "fio-iops")
	b.ReportMetric(median(ours), "entries/s")
	b.ReportMetric(100*median(ratios), "pct-of-fio")
}

// runFio runs the job in dir and returns fio's write IOPS (each write is
// followed by its fdatasync, so this is the fdatasync rate).
func runFio(b *testing.B, dir string) float64 {
	b.Helper()
	out, err := exec.Command("fio", "--rw=write", "--ioengine=sync", "--fdatasync=1",
		"--directory="+dir, "--size=22m", "--bs=2300", "--name=etcd", "--output-format=json").Output()
	if err != nil {
		b.Fatalf("fio: %v", err)
	}
	var res struct {
		Jobs []struct {
			Write struct {
				IOPS float64 `json:"iops"`
			} `json:"write"`
			Sync struct {
				Lat struct {
					Mean float64 `json:"mean"`
				} `json:"lat_ns"`
			} `json:"sync"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) != 1 {
		b.Fatalf("fio output: %v: %.200s", err, out)
	}
	b.Logf("fio: mean sync %.1fus, %.0f IOPS", res.Jobs[0].Sync.Lat.Mean/1e3, res.Jobs[0].Write.IOPS)
	return res.Jobs[0].Write.IOPS
}

// saveEntries saves n entries of fioBlock bytes one per Save and returns
// entries per second.
func saveEntries(b *testing.B, dir string, n int) float64 {
	b.Helper()
	be, err := Open(logbackends.Env{Dir: dir}, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := be.Close(); err != nil {
			b.Error(err)
		}
	}()
	data := make([]byte, fioBlock)
	typ, term := raftpb.EntryNormal, uint64(1)
	ents := make([]*raftpb.Entry, 1)
	start := time.Now()
	for i := uint64(1); i <= uint64(n); i++ {
		ents[0] = &raftpb.Entry{Index: new(i), Term: &term, Type: &typ, Data: data}
		hs := &raftpb.HardState{Term: &term, Vote: new(uint64(1)), Commit: new(i - 1)}
		if err := be.Save(hs, ents, nil, true); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	st := be.Stats()
	b.Logf("ours: mean sync %.1fus, mean op %.1fus, bytes/entry %.0f", float64(st.SyncLatency.SumNanos)/float64(st.SyncLatency.Count)/1e3, float64(el.Microseconds())/float64(n), float64(st.BytesWritten)/float64(n))
	return float64(n) / el.Seconds()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
