package store

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
)

// metricSources are what /metrics reads when it is scraped: nothing is
// copied into Prometheus types ahead of time, so the write path pays
// nothing for metrics.
type metricSources struct {
	logStats      func() logbackends.Stats
	commitLatency func() latency.Snapshot
	dbSize        func() int64
	status        *nodeStatus
	applied       *indexWaiter
	proposals     *proposalStats
	// peerRejected counts inbound peer connections closed by reason
	// (transport.Stats.Rejected); nil or empty for an in-process
	// network.
	peerRejected func() map[string]uint64
}

// newMetricsHandler serves the member's metrics in Prometheus format from a
// registry of its own: the store's metrics under the names etcd operators
// already graph, plus the standard process and Go runtime collectors.
func newMetricsHandler(src metricSources, log *slog.Logger) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		newStoreCollector(src),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector that fails (a /proc file that cannot be read) is
		// logged and left out; the rest are still served.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promErrorLog{log: log},
	}), nil
}

// scrape is what one collection reads once and several metrics share.
type scrape struct {
	log logbackends.Stats
}

// scalar is one counter or gauge of the store collector.
type scalar struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*scrape) float64
}

// storeCollector exports the store's own metrics. Describe lists every
// metric Collect sends, so the registry checks them.
type storeCollector struct {
	src           metricSources
	walFsync      *prometheus.Desc
	backendCommit *prometheus.Desc
	// emulated has one series per part of the log backend that is
	// emulated (logbackends.Stats.Emulated), so that a harness reading
	// /metrics labels its results as one holding the backend does.
	emulated *prometheus.Desc
	// peerRejected has one series per reason the peer transport closes
	// an inbound connection for.
	peerRejected *prometheus.Desc
	scalars      []scalar
	// backendCounters are the log backend's own Stats.Counters, by name:
	// a backend reports the same ones for its whole life, so they are
	// described once, from the Stats at construction.
	backendCounters map[string]*prometheus.Desc
}

// backendCounterName is the metric a log backend's own counter is
// exported as, e.g. adrbench_log_backend_torn_tails_cut_total.
func backendCounterName(c logbackends.Counter) string {
	return "adrbench_log_backend_" + c.Name + "_total"
}

// MetricLogBackendEmulated is the gauge /metrics exports, at 1, once for
// each part of the member's log backend that is emulated (label "part":
// "adr-region:emulated", "disk-profile:ssd-2015", ...); no series when
// nothing is.
const MetricLogBackendEmulated = "adrbench_log_backend_emulated"

// MetricPeerRejected is the counter /metrics exports for inbound peer
// connections closed for what arrived on them, with a "reason" label:
// handshake, tls, too_large, malformed, misrouted, idle, other.
const MetricPeerRejected = "adrbench_peer_rejected_frames_total"

func newStoreCollector(src metricSources) *storeCollector {
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	counter := func(name, help string, v func(*scrape) float64) scalar {
		return scalar{desc: desc(name, help), kind: prometheus.CounterValue, value: v}
	}
	gauge := func(name, help string, v func(*scrape) float64) scalar {
		return scalar{desc: desc(name, help), kind: prometheus.GaugeValue, value: v}
	}
	st := src.status
	backendCounters := map[string]*prometheus.Desc{}
	for _, bc := range src.logStats().Counters {
		backendCounters[bc.Name] = prometheus.NewDesc(backendCounterName(bc),
			fmt.Sprintf("The raft log backend's %s: %s.", bc.Unit, bc.Help), nil, nil)
	}
	return &storeCollector{
		backendCounters: backendCounters,
		src:             src,
		walFsync:        desc("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by the raft log backend."),
		backendCommit:   desc("etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by the state machine's backend."),
		emulated: prometheus.NewDesc(MetricLogBackendEmulated, "1 for each part of the raft log backend that is emulated rather than the real hardware behaviour.",
			[]string{"part"}, nil),
		peerRejected: prometheus.NewDesc(MetricPeerRejected,
			"Inbound peer connections closed for what arrived on them (a refused handshake, a frame too large or malformed, silence), by reason.",
			[]string{"reason"}, nil),
		scalars: []scalar{
			counter("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
				func(*scrape) float64 { return float64(st.commit.Load()) }),
			counter("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.",
				func(*scrape) float64 { return float64(src.applied.current()) }),
			counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen.",
				func(*scrape) float64 { return float64(src.proposals.failed.Load()) }),
			gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.",
				func(*scrape) float64 { return float64(src.proposals.pending.Load()) }),
			counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.",
				func(*scrape) float64 { return float64(st.leaderChanges.Load()) }),
			gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
				func(*scrape) float64 { return b2f(st.hasLeader.Load()) }),
			gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
				func(*scrape) float64 { return b2f(st.isLeader()) }),
			gauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.",
				func(*scrape) float64 { return float64(src.dbSize()) }),
			counter("adrbench_log_backend_syncs_total", "Syncs (fdatasync or flush+fence rounds) done by the raft log backend.",
				func(sc *scrape) float64 { return float64(sc.log.Syncs) }),
			counter("adrbench_log_backend_entries_total", "Raft log entries saved by the log backend.",
				func(sc *scrape) float64 { return float64(sc.log.EntriesSaved) }),
			counter("adrbench_log_backend_bytes_total", "Bytes written by the raft log backend.",
				func(sc *scrape) float64 { return float64(sc.log.BytesWritten) }),
			counter("adrbench_log_backend_saves_total", "Save calls on the raft log backend.",
				func(sc *scrape) float64 { return float64(sc.log.Saves) }),
		},
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.walFsync
	ch <- c.backendCommit
	ch <- c.emulated
	ch <- c.peerRejected
	for _, s := range c.scalars {
		ch <- s.desc
	}
	for _, d := range c.backendCounters {
		ch <- d
	}
}

// Collect implements prometheus.Collector, reading every source now.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	sc := &scrape{log: c.src.logStats()}
	ch <- constHistogram(c.walFsync, sc.log.SyncLatency)
	ch <- constHistogram(c.backendCommit, c.src.commitLatency())
	for _, part := range sc.log.Emulated {
		m, err := prometheus.NewConstMetric(c.emulated, prometheus.GaugeValue, 1, part)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.emulated, err)
		}
		ch <- m
	}
	if c.src.peerRejected != nil {
		for reason, n := range c.src.peerRejected() {
			ch <- prometheus.MustNewConstMetric(c.peerRejected, prometheus.CounterValue, float64(n), reason)
		}
	}
	for _, s := range c.scalars {
		m, err := prometheus.NewConstMetric(s.desc, s.kind, s.value(sc))
		if err != nil {
			m = prometheus.NewInvalidMetric(s.desc, err)
		}
		ch <- m
	}
	for _, bc := range sc.log.Counters {
		if d := c.backendCounters[bc.Name]; d != nil {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(bc.Value))
		}
	}
}

// constHistogram converts a latency histogram (per-bucket counts in
// nanoseconds) to a Prometheus one (cumulative counts in seconds). The
// overflow bucket has no bound of its own: its samples count in +Inf only.
// A snapshot taken while samples are recorded may hold more in its buckets
// than in its count; the count is raised to match, so the buckets never
// exceed +Inf.
func constHistogram(d *prometheus.Desc, h latency.Snapshot) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Buckets))
	var cum uint64
	for _, b := range h.Buckets {
		cum += b.Count
		if b.UpperNanos == math.MaxUint64 {
			continue
		}
		buckets[time.Duration(b.UpperNanos).Seconds()] = cum
	}
	m, err := prometheus.NewConstHistogram(d, max(h.Count, cum), time.Duration(h.SumNanos).Seconds(), buckets)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// promErrorLog sends the metrics handler's errors to the member's log.
type promErrorLog struct{ log *slog.Logger }

func (l promErrorLog) Println(v ...any) { l.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }
