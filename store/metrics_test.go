package store

import (
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
)

// TestMetricsEndpoint scrapes a running member and checks that it serves
// etcd's metric names with etcd's types, the log backend's counters (its
// own Stats.Counters included), and the standard process and Go
// collectors.
func TestMetricsEndpoint(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	ctx := ctxT(t)
	for i := 0; i < 10; i++ {
		if _, err := c.clients[0].Put(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get("http://" + c.members[0].ClientAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	value := func(name string) float64 {
		t.Helper()
		mf := families[name]
		if mf == nil || len(mf.GetMetric()) != 1 {
			t.Fatalf("/metrics: no single sample of %s", name)
		}
		m := mf.GetMetric()[0]
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
		return math.NaN()
	}
	tests := []struct {
		name string
		typ  dto.MetricType
		// check, if set, judges the value.
		check func(v float64) bool
	}{
		{name: "etcd_disk_wal_fsync_duration_seconds", typ: dto.MetricType_HISTOGRAM},
		{name: "etcd_disk_backend_commit_duration_seconds", typ: dto.MetricType_HISTOGRAM},
		{name: "etcd_server_proposals_committed_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 10 }},
		{name: "etcd_server_proposals_applied_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 10 }},
		{name: "etcd_server_proposals_failed_total", typ: dto.MetricType_COUNTER},
		{name: "etcd_server_proposals_pending", typ: dto.MetricType_GAUGE, check: func(v float64) bool { return v >= 0 }},
		{name: "etcd_server_leader_changes_seen_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 1 }},
		{name: "etcd_server_has_leader", typ: dto.MetricType_GAUGE, check: func(v float64) bool { return v == 1 }},
		{name: "etcd_server_is_leader", typ: dto.MetricType_GAUGE, check: func(v float64) bool { return v == 1 }},
		{name: "etcd_mvcc_db_total_size_in_bytes", typ: dto.MetricType_GAUGE, check: func(v float64) bool { return v > 0 }},
		{name: "adrbench_log_backend_syncs_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 1 }},
		{name: "adrbench_log_backend_entries_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 10 }},
		{name: "adrbench_log_backend_bytes_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v > 0 }},
		{name: "adrbench_log_backend_saves_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v >= 1 }},
		// The backend's own counters: a fresh log's recovery cut nothing.
		{name: "adrbench_log_backend_torn_tails_cut_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v == 0 }},
		{name: "adrbench_log_backend_torn_bytes_cut_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v == 0 }},
		{name: "process_cpu_seconds_total", typ: dto.MetricType_COUNTER, check: func(v float64) bool { return v > 0 }},
		{name: "go_goroutines", typ: dto.MetricType_GAUGE, check: func(v float64) bool { return v > 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := families[tt.name]
			if mf == nil {
				t.Fatalf("/metrics lacks %s", tt.name)
			}
			if mf.GetType() != tt.typ {
				t.Fatalf("%s is a %v, want %v", tt.name, mf.GetType(), tt.typ)
			}
			if tt.check != nil {
				if v := value(tt.name); !tt.check(v) {
					t.Fatalf("%s = %v", tt.name, v)
				}
			}
		})
	}

	// The fsync histogram has every one of etcd's bucket bounds (1 ms
	// doubling to 8.192 s), cumulative counts, and the log backend's count.
	h := families["etcd_disk_wal_fsync_duration_seconds"].GetMetric()[0].GetHistogram()
	bounds := map[float64]bool{}
	var prev uint64
	for _, b := range h.GetBucket() {
		bounds[b.GetUpperBound()] = true
		if b.GetCumulativeCount() < prev {
			t.Fatalf("fsync buckets are not cumulative: %v", h.GetBucket())
		}
		prev = b.GetCumulativeCount()
	}
	for _, le := range prometheus.ExponentialBuckets(0.001, 2, 14) {
		if !bounds[le] {
			t.Errorf("fsync histogram lacks etcd's bucket le=%g", le)
		}
	}
	if syncs := value("adrbench_log_backend_syncs_total"); h.GetSampleCount() == 0 || float64(h.GetSampleCount()) > syncs {
		t.Errorf("fsync histogram counts %d syncs, the backend %v", h.GetSampleCount(), syncs)
	}
}

func TestConstHistogram(t *testing.T) {
	ms := func(n uint64) uint64 { return n * uint64(time.Millisecond) }
	tests := []struct {
		name      string
		snap      latency.Snapshot
		wantCount uint64
		wantSum   float64
		// wantBuckets are the cumulative counts by upper bound in seconds.
		wantBuckets map[float64]uint64
	}{
		{
			name: "per-bucket counts become cumulative",
			snap: latency.Snapshot{Count: 6, SumNanos: ms(9), Buckets: []latency.Bucket{
				{UpperNanos: ms(1), Count: 1}, {UpperNanos: ms(2), Count: 2}, {UpperNanos: ms(4), Count: 3}, {UpperNanos: math.MaxUint64},
			}},
			wantCount: 6, wantSum: 0.009,
			wantBuckets: map[float64]uint64{0.001: 1, 0.002: 3, 0.004: 6},
		},
		{
			name: "the overflow bucket counts in +Inf only",
			snap: latency.Snapshot{Count: 3, SumNanos: ms(20001), Buckets: []latency.Bucket{
				{UpperNanos: ms(1), Count: 1}, {UpperNanos: ms(2)}, {UpperNanos: math.MaxUint64, Count: 2},
			}},
			wantCount: 3, wantSum: 20.001,
			wantBuckets: map[float64]uint64{0.001: 1, 0.002: 1},
		},
		{
			name: "a count behind its buckets is raised to them",
			snap: latency.Snapshot{Count: 2, SumNanos: ms(3), Buckets: []latency.Bucket{
				{UpperNanos: ms(1), Count: 3}, {UpperNanos: math.MaxUint64},
			}},
			wantCount: 3, wantSum: 0.003,
			wantBuckets: map[float64]uint64{0.001: 3},
		},
		{
			name:        "empty",
			snap:        latency.Snapshot{},
			wantBuckets: map[float64]uint64{},
		},
	}
	desc := prometheus.NewDesc("test_seconds", "A test histogram.", nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m dto.Metric
			if err := constHistogram(desc, tt.snap).Write(&m); err != nil {
				t.Fatal(err)
			}
			h := m.GetHistogram()
			if h.GetSampleCount() != tt.wantCount || math.Abs(h.GetSampleSum()-tt.wantSum) > 1e-12 {
				t.Errorf("count %d sum %v, want %d %v", h.GetSampleCount(), h.GetSampleSum(), tt.wantCount, tt.wantSum)
			}
			got := map[float64]uint64{}
			for _, b := range h.GetBucket() {
				got[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			if len(got) != len(tt.wantBuckets) {
				t.Fatalf("buckets %v, want %v", got, tt.wantBuckets)
			}
			for le, n := range tt.wantBuckets {
				if got[le] != n {
					t.Fatalf("buckets %v, want %v", got, tt.wantBuckets)
				}
			}
		})
	}
}

// TestEmulatedMetric: each emulated part of the log backend is a series
// of MetricLogBackendEmulated, so a harness that reads /metrics labels its
// results as emulated; a backend with nothing emulated exports none.
func TestEmulatedMetric(t *testing.T) {
	tests := []struct {
		name string
		emul []string
	}{
		{"nothing emulated", nil},
		{"region and disk", []string{"adr-region:emulated", "disk-profile:ssd-2015"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := newStoreCollector(metricSources{
				logStats:      func() logbackends.Stats { return logbackends.Stats{Emulated: tt.emul} },
				commitLatency: func() latency.Snapshot { return latency.Snapshot{} },
				dbSize:        func() int64 { return 0 },
				status:        &nodeStatus{},
				applied:       &indexWaiter{},
				proposals:     &proposalStats{},
			})
			if err := reg.Register(c); err != nil {
				t.Fatal(err)
			}
			fams, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, mf := range fams {
				if mf.GetName() != MetricLogBackendEmulated {
					continue
				}
				for _, m := range mf.GetMetric() {
					if m.GetGauge().GetValue() != 1 || len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "part" {
						t.Fatalf("series %v", m)
					}
					got = append(got, m.GetLabel()[0].GetValue())
				}
			}
			if !slices.Equal(got, tt.emul) {
				t.Fatalf("emulated series %v, want %v", got, tt.emul)
			}
		})
	}
}
