package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/results"
	"github.com/adrbench/adrbench/store"
)

// BackendStatser is a Cluster that can read its members' log-backend Stats
// directly (the inproc target holds the store servers), which is exact and
// costs no HTTP round trip. Other clusters are read through /metrics.
type BackendStatser interface {
	BackendStats() []logbackends.Stats
}

// FlushInstructioner is a Cluster that can name the cache-line flush its
// members' adr backends use ("clwb", "clflushopt", ...).
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
	// metricEmulated has a series per emulated part of our backend.
	metricEmulated = store.MetricLogBackendEmulated
)

// LogStats reads every member's log-backend Stats: from a BackendStatser if
// cl is one, else by scraping each endpoint's /metrics.
func LogStats(ctx context.Context, cl Cluster) ([]logbackends.Stats, error) {
	if bs, ok := cl.(BackendStatser); ok {
		return bs.BackendStats(), nil
	}
	return ScrapeLogStatsTLS(ctx, cl.Endpoints(), ClientTLS(cl))
}

// ScrapeLogStats reads the log-backend Stats of each endpoint from its
// Prometheus /metrics (the client URL serves it, for etcd and for our
// store). A figure the endpoint does not export stays 0: real etcd exports
// no entry count, so EntriesSaved is 0 for it.
func ScrapeLogStats(ctx context.Context, endpoints []string) ([]logbackends.Stats, error) {
	return ScrapeLogStatsTLS(ctx, endpoints, nil)
}

// ScrapeLogStatsTLS is ScrapeLogStats over HTTPS with tc (nil: plain
// HTTP).
func ScrapeLogStatsTLS(ctx context.Context, endpoints []string, tc *tls.Config) ([]logbackends.Stats, error) {
	hc, scheme := http.DefaultClient, "http://"
	if tc != nil {
		hc, scheme = &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone()}}, "https://"
		defer hc.CloseIdleConnections()
	}
	out := make([]logbackends.Stats, 0, len(endpoints))
	for _, ep := range endpoints {
		st, err := scrapeLogStats(ctx, hc, scheme, ep)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func scrapeLogStats(ctx context.Context, hc *http.Client, scheme, ep string) (logbackends.Stats, error) {
	if !strings.Contains(ep, "://") {
		ep = scheme + ep
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
	if err != nil {
		return logbackends.Stats{}, fmt.Errorf("%w: metrics of %s: %w", ErrMetrics, ep, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return logbackends.Stats{}, fmt.Errorf("%w: metrics of %s: %w", ErrMetrics, ep, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return logbackends.Stats{}, fmt.Errorf("%w: metrics of %s: status %s", ErrMetrics, ep, resp.Status)
	}
	st, err := parseLogMetrics(resp.Body, expfmt.ResponseFormat(resp.Header))
	if err != nil {
		return logbackends.Stats{}, fmt.Errorf("metrics of %s: %w", ep, err)
	}
	return st, nil
}

// parseLogMetrics reads the log-backend figures out of a Prometheus
// exposition in format (the text format when the server did not say).
func parseLogMetrics(r io.Reader, format expfmt.Format) (logbackends.Stats, error) {
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(r, format)
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return logbackends.Stats{}, fmt.Errorf("%w: %w", ErrMetrics, err)
		}
		fams[mf.GetName()] = mf
	}
	return logStatsOf(fams)
}

// logStatsOf picks the log-backend figures out of metric families. The
// sync count is our counter when there is one, else the fsync
// histogram's count, which is all etcd has.
func logStatsOf(fams map[string]*dto.MetricFamily) (logbackends.Stats, error) {
	var st logbackends.Stats
	lat, err := syncLatency(fams[metricFsync])
	if err != nil {
		return logbackends.Stats{}, err
	}
	st.SyncLatency = lat
	st.Syncs = lat.Count
	if n, ok := sampleSum(fams[metricSyncs]); ok {
		st.Syncs = n
	}
	st.EntriesSaved, _ = sampleSum(fams[metricEntries])
	st.Saves, _ = sampleSum(fams[metricSaves])
	if n, ok := sampleSum(fams[metricBytes]); ok {
		st.BytesWritten = n
	} else {
		st.BytesWritten, _ = sampleSum(fams[metricEtcdWALBytes])
	}
	st.Emulated = emulatedParts(fams[metricEmulated])
	return st, nil
}

// emulatedParts reads the part label of every series of the emulated
// gauge that is set.
func emulatedParts(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		if m.GetGauge().GetValue() == 0 {
			continue
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == "part" && l.GetValue() != "" {
				out = appendUnique(out, l.GetValue())
			}
		}
	}
	return out
}

// syncLatency converts the fsync histogram, whose buckets are cumulative
// with upper bounds in seconds, into a snapshot with a count per bucket in
// nanoseconds, the last bucket unbounded.
func syncLatency(mf *dto.MetricFamily) (latency.Snapshot, error) {
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
		return latency.Snapshot{}, fmt.Errorf("%w: no %s histogram", ErrMetrics, metricFsync)
	}
	if n := len(mf.GetMetric()); n != 1 {
		return latency.Snapshot{}, fmt.Errorf("%w: %s has %d series, want one", ErrMetrics, metricFsync, n)
	}
	h := mf.GetMetric()[0].GetHistogram()
	if len(h.GetBucket()) == 0 {
		return latency.Snapshot{}, fmt.Errorf("%w: %s has no buckets", ErrMetrics, metricFsync)
	}
	s := latency.Snapshot{
		Count:    h.GetSampleCount(),
		SumNanos: uint64(math.Round(h.GetSampleSum() * 1e9)),
	}
	var prev, prevUpper uint64
	for i, b := range h.GetBucket() {
		upper := uint64(math.MaxUint64)
		if !math.IsInf(b.GetUpperBound(), +1) {
			upper = uint64(math.Round(b.GetUpperBound() * 1e9))
		}
		cum := b.GetCumulativeCount()
		if cum < prev || i > 0 && upper <= prevUpper {
			return latency.Snapshot{}, fmt.Errorf("%w: %s buckets out of order", ErrMetrics, metricFsync)
		}
		s.Buckets = append(s.Buckets, latency.Bucket{UpperNanos: upper, Count: cum - prev})
		prev, prevUpper = cum, upper
	}
	// The text format always carries the +Inf bucket; an exposition
	// without it still has the histogram's count.
	if prevUpper != math.MaxUint64 {
		if s.Count < prev {
			return latency.Snapshot{}, fmt.Errorf("%w: %s count below its buckets", ErrMetrics, metricFsync)
		}
		s.Buckets = append(s.Buckets, latency.Bucket{UpperNanos: math.MaxUint64, Count: s.Count - prev})
	}
	return s, nil
}

// sampleSum adds up the values of a counter, gauge or untyped family
// over its series (etcd exports its WAL byte count as a gauge); false
// when there is no such family.
func sampleSum(mf *dto.MetricFamily) (uint64, bool) {
	if mf == nil {
		return 0, false
	}
	var v float64
	for _, m := range mf.GetMetric() {
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			v += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v += m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			v += m.GetUntyped().GetValue()
		default:
			return 0, false
		}
	}
	return uint64(max(v, 0)), true
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
