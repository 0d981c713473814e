package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/adrbench/adrbench/internal/latency"
)

// metrics are the server's own counters; the rest is read from raft, the
// log backend and the state machine when /metrics is scraped.
type metrics struct {
	proposalsApplied atomic.Uint64
	proposalsFailed  atomic.Uint64
	proposalsPending atomic.Int64
}

// serveMetrics writes Prometheus text format with the metric names etcd
// operators already graph.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	bs := s.backend.Stats()
	writeHistogram(bw, "etcd_disk_wal_fsync_duration_seconds",
		"The latency distributions of fsync called by the raft log backend.", bs.SyncLatency)
	writeHistogram(bw, "etcd_disk_backend_commit_duration_seconds",
		"The latency distributions of commit called by the state machine's backend.", s.kv.CommitLatency())
	counter(bw, "etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", float64(s.node.status.commit.Load()))
	counter(bw, "etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", float64(s.applied.current()))
	counter(bw, "etcd_server_proposals_failed_total", "The total number of failed proposals seen.", float64(s.metrics.proposalsFailed.Load()))
	gauge(bw, "etcd_server_proposals_pending", "The current number of pending proposals to commit.", float64(s.metrics.proposalsPending.Load()))
	counter(bw, "etcd_server_leader_changes_seen_total", "The number of leader changes seen.", float64(s.node.status.leaderChanges.Load()))
	gauge(bw, "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", b2f(s.node.status.hasLeader.Load()))
	gauge(bw, "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", b2f(s.isLeader()))
	gauge(bw, "etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", float64(s.kv.Size()))
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

func writeHistogram(w *bufio.Writer, name, help string, h latency.Snapshot) {
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

// serveHealth answers like etcd's /health: healthy when there is a leader
// and a linearizable read goes through.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	reason := ""
	if !s.node.status.hasLeader.Load() {
		reason = "RAFT NO LEADER"
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := s.linearizableRead(ctx)
		cancel()
		if err != nil {
			reason = "RAFT READ INDEX: " + err.Error()
		}
	}
	body := map[string]string{"health": "true", "reason": reason}
	if reason != "" {
		body["health"] = "false"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"etcdserver": Version, "etcdcluster": Version})
}
