package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/adrbench/adrbench/internal/proccluster"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/segment"
	"github.com/adrbench/adrbench/logbackends/vfs"
	"github.com/adrbench/adrbench/store"
)

// TestLogDamageOnRestart stops a 3-member batched cluster cleanly, so that
// everything in the raft logs is synced, damages the last segment of one
// member's log on disk and restarts:
//
//   - one bit flipped in the last record is damage no crash explains: the
//     member must refuse to start, naming the segment file and the
//     record's offset;
//   - the log zeroed from a sector boundary inside a record to its end is
//     what a power loss leaves of a write it tore: the member must cut that
//     tail, say so in its log with file, offset and bytes, count it on
//     /metrics, and catch up with the cluster.
//
// The whole cluster restarts after the cut, as after a power loss of every
// member. A leader that stayed up would remember the entries the member
// had acknowledged before the cut, and raft stops a follower that lost
// those (the cut here removes synced entries, which only a disk that lost
// synced data can do): that is why damage that is not a torn write must
// never be cut silently.
func TestLogDamageOnRestart(t *testing.T) {
	bin := buildAdrbench(t)
	c := startCluster(t, serveSpec(bin, "batched"), 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cli, err := newClient(c.Endpoints()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// Values of a kilobyte give entry records that span sectors.
	value := strings.Repeat("v", 1000)
	const keys = 20
	for k := range keys {
		if _, err := cli.Put(ctx, fmt.Sprintf("k%02d", k), value); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	const i = 1
	m := c.Member(i)
	if err := c.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := segment.Inspect(vfs.OS{}, store.LogDir(m.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	seg := segs[len(segs)-1]
	if len(seg.Records) == 0 {
		t.Fatalf("%s holds no records", seg.Path)
	}
	last := seg.Records[len(seg.Records)-1]

	// One flipped bit in the last, synced record.
	at := last.Offset + last.Size/2
	flipBit(t, seg.Path, at)
	if err := c.Restart(i); err != nil {
		t.Fatal(err)
	}
	err = c.WaitServing(ctx, i)
	if !errors.Is(err, proccluster.ErrMemberExited) {
		t.Fatalf("%s started on a log with a flipped bit at %d: %v", m.Name(), at, err)
	}
	want := fmt.Sprintf("%s at offset %d", seg.Path, last.Offset)
	if log := m.LogTail(5); !strings.Contains(log, logbackends.ErrCorrupt.Error()) || !strings.Contains(log, want) {
		t.Fatalf("%s refused to start without naming %q as corrupt:\n%s", m.Name(), want, log)
	}
	flipBit(t, seg.Path, at) // undone

	// The tail torn at a sector boundary inside the last record that
	// crosses one.
	var torn segment.RecordInfo
	for _, r := range seg.Records {
		if r.Offset/vfs.SectorSize != (r.Offset+r.Size-1)/vfs.SectorSize {
			torn = r
		}
	}
	if torn.Size == 0 {
		t.Fatalf("no record of %s crosses a sector boundary", seg.Path)
	}
	from := (torn.Offset/vfs.SectorSize + 1) * vfs.SectorSize
	zero(t, seg.Path, from, last.Offset+last.Size-from)
	for k := range c.Size() {
		if err := c.Restart(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("%s did not come back after its torn tail: %v", m.Name(), err)
	}
	cut := regexp.MustCompile(`cut a torn tail.* file=(\S+) offset=(\d+) bytes=(\d+)`).FindStringSubmatch(m.Log())
	if cut == nil {
		t.Fatalf("%s's log does not report the cut:\n%s", m.Name(), m.LogTail(20))
	}
	bytes, _ := strconv.ParseInt(cut[3], 10, 64)
	if cut[1] != seg.Path || cut[2] != strconv.FormatInt(torn.Offset, 10) || bytes <= 0 || bytes > from-torn.Offset {
		t.Fatalf("%s's log reports a cut of %s bytes of %s at %s; want 1..%d bytes of %s at %d",
			m.Name(), cut[3], cut[1], cut[2], from-torn.Offset, seg.Path, torn.Offset)
	}
	t.Logf("%s cut %d bytes of %s at offset %d", m.Name(), bytes, seg.Path, torn.Offset)
	if n := counter(t, ctx, m.ClientURL(), "adrbench_log_backend_torn_tails_cut_total"); n != 1 {
		t.Fatalf("%s counts %v torn tails on /metrics, want 1", m.Name(), n)
	}
	// The member caught up: a linearizable read through it sees every key.
	mcli, err := newClient(m.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer mcli.Close()
	resp, err := mcli.Get(ctx, "k", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != keys {
		t.Fatalf("%s after the cut: %d keys, %v; want %d", m.Name(), len(resp.Kvs), err, keys)
	}
}

// flipBit flips the low bit of the byte at off in path, durably.
func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// zero overwrites n bytes of path at off with zeros, durably.
func zero(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, n), off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// counter reads the counter called name from a member's /metrics.
func counter(t *testing.T, ctx context.Context, clientURL, name string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s/metrics: %v", clientURL, err)
	}
	mf := families[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		t.Fatalf("%s/metrics has no single sample of %s", clientURL, name)
	}
	return mf.GetMetric()[0].GetCounter().GetValue()
}
