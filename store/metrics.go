package store

import (
	"bufio"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/adrbench/adrbench/logbackends"
)

// metricSources are what /metrics reads when it is scraped: nothing is
// copied ahead of time, so the write path pays nothing for metrics.
type metricSources struct {
	logStats      func() logbackends.Stats
	commitLatency func() logbackends.LatencySnapshot
	dbSize        func() int64
	status        *nodeStatus
	applied       *indexWaiter
	proposals     *proposalStats
}

// newMetricsHandler serves Prometheus text format with the metric names
// etcd operators already graph.
func newMetricsHandler(src metricSources, _ *slog.Logger) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveMetrics(w, src) }), nil
}

func serveMetrics(w http.ResponseWriter, src metricSources) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	bs := src.logStats()
	st := src.status
	writeHistogram(bw, "etcd_disk_wal_fsync_duration_seconds",
		"The latency distributions of fsync called by the raft log backend.", bs.SyncLatency)
	writeHistogram(bw, "etcd_disk_backend_commit_duration_seconds",
		"The latency distributions of commit called by the state machine's backend.", src.commitLatency())
	counter(bw, "etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", float64(st.commit.Load()))
	counter(bw, "etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", float64(src.applied.current()))
	counter(bw, "etcd_server_proposals_failed_total", "The total number of failed proposals seen.", float64(src.proposals.failed.Load()))
	gauge(bw, "etcd_server_proposals_pending", "The current number of pending proposals to commit.", float64(src.proposals.pending.Load()))
	counter(bw, "etcd_server_leader_changes_seen_total", "The number of leader changes seen.", float64(st.leaderChanges.Load()))
	gauge(bw, "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", b2f(st.hasLeader.Load()))
	gauge(bw, "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", b2f(st.isLeader()))
	gauge(bw, "etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", float64(src.dbSize()))
	counter(bw, "adrbench_log_backend_syncs_total", "Syncs (fdatasync or flush+fence rounds) done by the raft log backend.", float64(bs.Syncs))
	counter(bw, "adrbench_log_backend_entries_total", "Raft log entries saved by the log backend.", float64(bs.EntriesSaved))
	counter(bw, "adrbench_log_backend_bytes_total", "Bytes written by the raft log backend.", float64(bs.BytesWritten))
	counter(bw, "adrbench_log_backend_saves_total", "Save calls on the raft log backend.", float64(bs.Saves))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func counter(w *bufio.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %g\n", name, help, name, name, v)
}

func gauge(w *bufio.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
}

func writeHistogram(w *bufio.Writer, name, help string, h logbackends.LatencySnapshot) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for _, b := range h.Buckets {
		if b.UpperNanos == math.MaxUint64 {
			continue // the overflow bucket is +Inf below
		}
		cum += b.Count
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, time.Duration(b.UpperNanos).Seconds(), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, h.Count)
	fmt.Fprintf(w, "%s_sum %g\n%s_count %d\n", name, time.Duration(h.SumNanos).Seconds(), name, h.Count)
}
