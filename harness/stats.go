package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
)

// BackendStatser is a Cluster that can read its members' log-backend Stats
// directly (the inproc target holds the store servers), which is exact and
// costs no HTTP round trip. Other clusters are read through /metrics.
type BackendStatser interface {
	BackendStats() []logbackends.Stats
}

// FlushInstructioner is a Cluster that can name the cache-line flush its
// members' log backends use on persistent memory ("clwb", "clflushopt",
// ...; logbackends.FactFlushInstruction).
type FlushInstructioner interface {
	FlushInstruction() string
}

// Metric names read from /metrics. The histogram is the one etcd exports
// and our store exports under the same name; the counters are ours, except
// etcd's WAL byte counter, which our store does not export.
const (
	metricFsync        = "etcd_disk_wal_fsync_duration_seconds"
	metricSyncs        = "adrbench_log_backend_syncs_total"
	metricEntries      = "adrbench_log_backend_entries_total"
	metricBytes        = "adrbench_log_backend_bytes_total"
	metricSaves        = "adrbench_log_backend_saves_total"
	metricEtcdWALBytes = "etcd_disk_wal_write_bytes_total"
)

// LogStats reads every member's log-backend Stats: from a BackendStatser if
// cl is one, else by scraping each endpoint's /metrics.
func LogStats(ctx context.Context, cl Cluster) ([]logbackends.Stats, error) {
	if bs, ok := cl.(BackendStatser); ok {
		return bs.BackendStats(), nil
	}
	return ScrapeLogStats(ctx, cl.Endpoints())
}

// ScrapeLogStats reads the log-backend Stats of each endpoint from its
// Prometheus /metrics (the client URL serves it, for etcd and for our
// store). A figure the endpoint does not export stays 0: real etcd exports
// no entry count, so EntriesSaved is 0 for it.
func ScrapeLogStats(ctx context.Context, endpoints []string) ([]logbackends.Stats, error) {
	out := make([]logbackends.Stats, 0, len(endpoints))
	for _, ep := range endpoints {
		if !strings.Contains(ep, "://") {
			ep = "http://" + ep
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
		if err != nil {
			return nil, fmt.Errorf("%w: metrics of %s: %w", ErrMetrics, ep, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: metrics of %s: %w", ErrMetrics, ep, err)
		}
		st, err := parseLogMetrics(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%w: status %s", ErrMetrics, resp.Status)
		}
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", ep, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// parseLogMetrics reads the log-backend figures out of Prometheus text
// format. Bucket counts there are cumulative; Stats' are per bucket.
func parseLogMetrics(r io.Reader) (logbackends.Stats, error) {
	var (
		st                    logbackends.Stats
		cum                   []latency.Bucket // cumulative, in file order
		haveHist, haveSyncCtr bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, err := splitSample(line)
		if err != nil {
			return logbackends.Stats{}, err
		}
		u := func() uint64 { return uint64(max(value, 0)) }
		switch name {
		case metricFsync + "_bucket":
			le, ok := labelValue(labels, "le")
			if !ok {
				return logbackends.Stats{}, fmt.Errorf("%w: %s without le", ErrMetrics, line)
			}
			upper := uint64(math.MaxUint64)
			if le != "+Inf" {
				f, err := strconv.ParseFloat(le, 64)
				if err != nil {
					return logbackends.Stats{}, fmt.Errorf("%w: bad le in %q", ErrMetrics, line)
				}
				upper = uint64(math.Round(f * 1e9))
			}
			cum = append(cum, latency.Bucket{UpperNanos: upper, Count: u()})
			haveHist = true
		case metricFsync + "_sum":
			st.SyncLatency.SumNanos = uint64(math.Round(value * 1e9))
		case metricFsync + "_count":
			st.SyncLatency.Count = u()
			if !haveSyncCtr {
				st.Syncs = u()
			}
		case metricSyncs:
			st.Syncs, haveSyncCtr = u(), true
		case metricEntries:
			st.EntriesSaved = u()
		case metricBytes, metricEtcdWALBytes:
			st.BytesWritten = u()
		case metricSaves:
			st.Saves = u()
		}
	}
	if err := sc.Err(); err != nil {
		return logbackends.Stats{}, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	if !haveHist {
		return logbackends.Stats{}, fmt.Errorf("%w: no %s histogram", ErrMetrics, metricFsync)
	}
	var prev uint64
	for i, b := range cum {
		if b.Count < prev || i > 0 && b.UpperNanos <= cum[i-1].UpperNanos {
			return logbackends.Stats{}, fmt.Errorf("%w: %s buckets out of order", ErrMetrics, metricFsync)
		}
		st.SyncLatency.Buckets = append(st.SyncLatency.Buckets, latency.Bucket{UpperNanos: b.UpperNanos, Count: b.Count - prev})
		prev = b.Count
	}
	return st, nil
}

// splitSample splits `name{labels} value [timestamp]`.
func splitSample(line string) (name, labels string, value float64, err error) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, fmt.Errorf("%w: bad sample %q", ErrMetrics, line)
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		n, r, ok := strings.Cut(line, " ")
		if !ok {
			return "", "", 0, fmt.Errorf("%w: bad sample %q", ErrMetrics, line)
		}
		name, rest = n, r
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", "", 0, fmt.Errorf("%w: sample without value %q", ErrMetrics, line)
	}
	value, err = strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("%w: bad value in %q", ErrMetrics, line)
	}
	return name, labels, value, nil
}

// labelValue finds key="value" in a label list; label values in the
// metrics read here hold no commas or quotes.
func labelValue(labels, key string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// LogStatsDelta is what all members together did between two readings:
// counters and histogram buckets subtracted member by member, then summed.
// It fails when the readings do not match (another member count, another
// bucket layout, a counter that went back: a member restarted).
func LogStatsDelta(before, after []logbackends.Stats) (logbackends.Stats, error) {
	if len(before) != len(after) {
		return logbackends.Stats{}, fmt.Errorf("%w: %d members before, %d after", ErrMetrics, len(before), len(after))
	}
	var d logbackends.Stats
	for i := range after {
		a, b := after[i], before[i]
		if d.Backend == "" {
			d.Backend = a.Backend
		}
		if a.Saves < b.Saves || a.EntriesSaved < b.EntriesSaved || a.BytesWritten < b.BytesWritten ||
			a.Syncs < b.Syncs || a.SyncLatency.Count < b.SyncLatency.Count || a.SyncLatency.SumNanos < b.SyncLatency.SumNanos {
			return logbackends.Stats{}, fmt.Errorf("%w: member %d's counters went back (restarted?)", ErrMetrics, i)
		}
		d.Saves += a.Saves - b.Saves
		d.EntriesSaved += a.EntriesSaved - b.EntriesSaved
		d.BytesWritten += a.BytesWritten - b.BytesWritten
		d.Syncs += a.Syncs - b.Syncs
		d.SyncLatency.Count += a.SyncLatency.Count - b.SyncLatency.Count
		d.SyncLatency.SumNanos += a.SyncLatency.SumNanos - b.SyncLatency.SumNanos
		if len(b.SyncLatency.Buckets) == 0 && len(a.SyncLatency.Buckets) > 0 {
			b.SyncLatency.Buckets = make([]latency.Bucket, len(a.SyncLatency.Buckets))
			for j := range b.SyncLatency.Buckets {
				b.SyncLatency.Buckets[j].UpperNanos = a.SyncLatency.Buckets[j].UpperNanos
			}
		}
		if len(a.SyncLatency.Buckets) != len(b.SyncLatency.Buckets) {
			return logbackends.Stats{}, fmt.Errorf("%w: member %d's sync buckets changed", ErrMetrics, i)
		}
		if d.SyncLatency.Buckets == nil {
			d.SyncLatency.Buckets = make([]latency.Bucket, len(a.SyncLatency.Buckets))
			for j := range d.SyncLatency.Buckets {
				d.SyncLatency.Buckets[j].UpperNanos = a.SyncLatency.Buckets[j].UpperNanos
			}
		}
		if len(d.SyncLatency.Buckets) != len(a.SyncLatency.Buckets) {
			return logbackends.Stats{}, fmt.Errorf("%w: members' sync buckets differ", ErrMetrics)
		}
		for j, ab := range a.SyncLatency.Buckets {
			bb := b.SyncLatency.Buckets[j]
			if ab.UpperNanos != bb.UpperNanos || ab.UpperNanos != d.SyncLatency.Buckets[j].UpperNanos || ab.Count < bb.Count {
				return logbackends.Stats{}, fmt.Errorf("%w: member %d's sync bucket %d does not match", ErrMetrics, i, j)
			}
			d.SyncLatency.Buckets[j].Count += ab.Count - bb.Count
		}
		for _, e := range a.Emulated {
			d.Emulated = appendUnique(d.Emulated, e)
		}
	}
	return d, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// SyncLatencyMs summarises a bucketed sync-latency histogram in
// milliseconds, nil when it holds no samples. Percentiles are interpolated
// linearly inside their bucket, as Prometheus' histogram_quantile does: the
// buckets double (from about 1 µs for our backends, from 1 ms for etcd's
// /metrics), so a figure is an estimate within a factor of two, and one in
// the overflow bucket is reported as that bucket's lower bound. Max is the upper bound of the highest non-empty bucket; StdDev is
// unknown and left 0.
func SyncLatencyMs(s latency.Snapshot) *results.Latency {
	var total uint64
	for _, b := range s.Buckets {
		total += b.Count
	}
	if total == 0 {
		return nil
	}
	ms := func(ns float64) float64 { return ns / 1e6 }
	lower := func(i int) float64 {
		if i == 0 {
			return 0
		}
		return float64(s.Buckets[i-1].UpperNanos)
	}
	upper := func(i int) float64 {
		if s.Buckets[i].UpperNanos == math.MaxUint64 {
			return lower(i)
		}
		return float64(s.Buckets[i].UpperNanos)
	}
	quantile := func(q float64) float64 {
		rank := q * float64(total)
		var seen float64
		for i, b := range s.Buckets {
			if b.Count == 0 {
				continue
			}
			if seen+float64(b.Count) >= rank {
				return lower(i) + (upper(i)-lower(i))*(rank-seen)/float64(b.Count)
			}
			seen += float64(b.Count)
		}
		return upper(len(s.Buckets) - 1)
	}
	l := &results.Latency{
		P50: ms(quantile(.5)), P90: ms(quantile(.9)), P99: ms(quantile(.99)), P999: ms(quantile(.999)),
	}
	for i, b := range s.Buckets {
		if b.Count > 0 {
			l.Min = ms(lower(i))
			break
		}
	}
	for i := len(s.Buckets) - 1; i >= 0; i-- {
		if s.Buckets[i].Count > 0 {
			l.Max = ms(upper(i))
			break
		}
	}
	if s.Count > 0 {
		l.Mean = float64(s.SumNanos) / float64(s.Count) / 1e6
	}
	return l
}

// fillLogStats puts what the log backends did during the measured part of
// a run into p; ops is the operations the run sent (successful or not).
func fillLogStats(p *results.Point, d logbackends.Stats, ops int64) {
	p.LogSyncs = d.Syncs
	p.LogBytesWritten = d.BytesWritten
	p.LogEntriesSaved = d.EntriesSaved
	p.LogSyncLatencyMs = SyncLatencyMs(d.SyncLatency)
	if ops > 0 {
		p.SyncsPerOp = float64(d.Syncs) / float64(ops)
	}
}

// logStatsTimeout bounds one reading of the members' stats, so a member
// that stopped answering /metrics cannot hold a finished run hostage.
const logStatsTimeout = 5 * time.Second
