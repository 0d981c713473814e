package harness

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/adrbench/adrbench/internal/latency"
	"github.com/adrbench/adrbench/logbackends"
)

// ourMetrics is the shape of our store's /metrics for the log backend.
const ourMetrics = `# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by the raft log backend.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 6
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 9
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} 10
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 10
etcd_disk_wal_fsync_duration_seconds_sum 0.0123
etcd_disk_wal_fsync_duration_seconds_count 10
# HELP adrbench_log_backend_syncs_total Syncs done by the raft log backend.
# TYPE adrbench_log_backend_syncs_total counter
adrbench_log_backend_syncs_total 10
# TYPE adrbench_log_backend_entries_total counter
adrbench_log_backend_entries_total 40
# TYPE adrbench_log_backend_bytes_total counter
adrbench_log_backend_bytes_total 12345
# TYPE adrbench_log_backend_saves_total counter
adrbench_log_backend_saves_total 11
# TYPE etcd_disk_backend_commit_duration_seconds histogram
etcd_disk_backend_commit_duration_seconds_bucket{le="0.001"} 99
etcd_disk_backend_commit_duration_seconds_bucket{le="+Inf"} 99
etcd_disk_backend_commit_duration_seconds_sum 0.05
etcd_disk_backend_commit_duration_seconds_count 99
`

// etcdMetrics is the shape of real etcd's: no entry or sync counters, the
// WAL's bytes as a gauge under etcd's own name, labels and timestamps on
// other metrics.
const etcdMetrics = `# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 150
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 151
etcd_disk_wal_fsync_duration_seconds_sum 0.2
etcd_disk_wal_fsync_duration_seconds_count 151
# HELP etcd_disk_wal_write_bytes_total Total number of bytes written in WAL.
# TYPE etcd_disk_wal_write_bytes_total gauge
etcd_disk_wal_write_bytes_total 4.096e+06
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 5 1700000000000
`

const fsyncType = "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"

func TestParseLogMetrics(t *testing.T) {
	ours := logbackends.Stats{
		Saves: 11, EntriesSaved: 40, BytesWritten: 12345, Syncs: 10,
		SyncLatency: latency.Snapshot{Count: 10, SumNanos: 12300000, Buckets: []latency.Bucket{
			{UpperNanos: 1e6, Count: 6}, {UpperNanos: 2e6, Count: 3}, {UpperNanos: 4e6, Count: 1}, {UpperNanos: math.MaxUint64, Count: 0},
		}},
	}
	tests := []struct {
		name    string
		in      string
		format  expfmt.Format
		want    logbackends.Stats
		wantErr bool
	}{
		{name: "ours", in: ourMetrics, want: ours},
		{name: "ours as protobuf", in: ourMetrics, format: expfmt.NewFormat(expfmt.TypeProtoDelim), want: ours},
		{name: "etcd", in: etcdMetrics, want: logbackends.Stats{
			BytesWritten: 4096000, Syncs: 151,
			SyncLatency: latency.Snapshot{Count: 151, SumNanos: 2e8, Buckets: []latency.Bucket{
				{UpperNanos: 1e6, Count: 100}, {UpperNanos: 2e6, Count: 50}, {UpperNanos: math.MaxUint64, Count: 1},
			}},
		}},
		{name: "no +Inf bucket", in: fsyncType + "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 3\netcd_disk_wal_fsync_duration_seconds_count 5\n",
			want: logbackends.Stats{Syncs: 5, SyncLatency: latency.Snapshot{Count: 5, Buckets: []latency.Bucket{
				{UpperNanos: 1e6, Count: 3}, {UpperNanos: math.MaxUint64, Count: 2},
			}}}},
		{name: "no histogram", in: "adrbench_log_backend_syncs_total 3\n", wantErr: true},
		{name: "histogram without TYPE", in: "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 3\n", wantErr: true},
		{name: "bucket without le", in: fsyncType + "etcd_disk_wal_fsync_duration_seconds_bucket{x=\"1\"} 3\n", wantErr: true},
		{name: "buckets not cumulative", in: fsyncType + "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 3\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 2\n", wantErr: true},
		{name: "two series", in: fsyncType + "etcd_disk_wal_fsync_duration_seconds_bucket{dev=\"a\",le=\"+Inf\"} 3\netcd_disk_wal_fsync_duration_seconds_bucket{dev=\"b\",le=\"+Inf\"} 2\n", wantErr: true},
		{name: "bad value", in: ourMetrics + "adrbench_log_backend_other many\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, format := io.Reader(strings.NewReader(tc.in)), expfmt.NewFormat(expfmt.TypeTextPlain)
			if tc.format != "" {
				in, format = reencode(t, tc.in, tc.format), tc.format
			}
			got, err := parseLogMetrics(in, format)
			if tc.wantErr {
				if !errors.Is(err, ErrMetrics) {
					t.Fatalf("err %v, want ErrMetrics", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Saves != tc.want.Saves || got.EntriesSaved != tc.want.EntriesSaved || got.BytesWritten != tc.want.BytesWritten ||
				got.Syncs != tc.want.Syncs || got.SyncLatency.Count != tc.want.SyncLatency.Count || got.SyncLatency.SumNanos != tc.want.SyncLatency.SumNanos {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(got.SyncLatency.Buckets) != len(tc.want.SyncLatency.Buckets) {
				t.Fatalf("buckets %+v, want %+v", got.SyncLatency.Buckets, tc.want.SyncLatency.Buckets)
			}
			for i, b := range got.SyncLatency.Buckets {
				if b != tc.want.SyncLatency.Buckets[i] {
					t.Errorf("bucket %d = %+v, want %+v", i, b, tc.want.SyncLatency.Buckets[i])
				}
			}
		})
	}
}

// reencode parses a text exposition and writes it again in format.
func reencode(t *testing.T, text string, format expfmt.Format) io.Reader {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range fams {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return &buf
}

func TestScrapeLogStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			io.WriteString(w, etcdMetrics)
		default:
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	got, err := ScrapeLogStats(t.Context(), []string{srv.URL, strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Syncs != 151 || got[1].BytesWritten != 4096000 {
		t.Fatalf("ScrapeLogStats = %+v", got)
	}
	if _, err := ScrapeLogStats(t.Context(), []string{srv.URL + "/elsewhere"}); !errors.Is(err, ErrMetrics) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("scrape of a failing endpoint: %v, want ErrMetrics naming the status", err)
	}
}

func snap(sum uint64, counts ...uint64) latency.Snapshot {
	s := latency.Snapshot{SumNanos: sum}
	uppers := []uint64{1e6, 2e6, 4e6, math.MaxUint64}
	for i, c := range counts {
		s.Buckets = append(s.Buckets, latency.Bucket{UpperNanos: uppers[i], Count: c})
		s.Count += c
	}
	return s
}

func TestLogStatsDelta(t *testing.T) {
	before := []logbackends.Stats{
		{Backend: "batched", Syncs: 10, EntriesSaved: 20, BytesWritten: 100, Saves: 10, SyncLatency: snap(5e6, 5, 5, 0, 0)},
		{Backend: "batched", Syncs: 1, EntriesSaved: 2, BytesWritten: 10, Saves: 1, SyncLatency: snap(1e6, 1, 0, 0, 0)},
	}
	after := []logbackends.Stats{
		{Backend: "batched", Syncs: 30, EntriesSaved: 60, BytesWritten: 300, Saves: 30, SyncLatency: snap(45e6, 5, 15, 10, 0), Emulated: []string{"x"}},
		{Backend: "batched", Syncs: 11, EntriesSaved: 22, BytesWritten: 110, Saves: 11, SyncLatency: snap(11e6, 1, 10, 0, 0), Emulated: []string{"x"}},
	}
	d, err := LogStatsDelta(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if d.Syncs != 30 || d.EntriesSaved != 60 || d.BytesWritten != 300 || d.Saves != 30 || d.Backend != "batched" {
		t.Errorf("delta %+v", d)
	}
	if d.SyncLatency.Count != 30 || d.SyncLatency.SumNanos != 50e6 || len(d.Emulated) != 1 {
		t.Errorf("latency delta %+v, emulated %v", d.SyncLatency, d.Emulated)
	}
	want := []uint64{0, 20, 10, 0}
	for i, b := range d.SyncLatency.Buckets {
		if b.Count != want[i] {
			t.Errorf("bucket %d holds %d, want %d", i, b.Count, want[i])
		}
	}

	bad := []struct {
		name          string
		before, after []logbackends.Stats
	}{
		{"member count", before, after[:1]},
		{"restarted", after, before},
		{"bucket layout", before[:1], []logbackends.Stats{{Syncs: 20, SyncLatency: snap(0, 5, 5)}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LogStatsDelta(tc.before, tc.after); !errors.Is(err, ErrMetrics) {
				t.Fatalf("err %v, want ErrMetrics", err)
			}
		})
	}
}

func TestSyncLatencyMs(t *testing.T) {
	if l := SyncLatencyMs(snap(0, 0, 0, 0, 0)); l != nil {
		t.Fatalf("empty histogram summarised as %+v", l)
	}
	// 100 syncs: 50 in (0,1ms], 40 in (1,2], 10 in (2,4].
	l := SyncLatencyMs(snap(120e6, 50, 40, 10, 0))
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(l.P50, 1) || !near(l.P90, 2) || !near(l.P99, 3.8) || !near(l.Max, 4) || !near(l.Min, 0) || !near(l.Mean, 1.2) {
		t.Errorf("summary %+v", *l)
	}
	if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("percentiles not increasing: %+v", *l)
	}
	// Samples in the overflow bucket are reported at its lower bound.
	if o := SyncLatencyMs(snap(0, 0, 0, 0, 3)); !near(o.P99, 4) || !near(o.Max, 4) || !near(o.Min, 4) {
		t.Errorf("overflow summary %+v", *o)
	}
}

// TestParseEmulated reads what a member emulates from the gauge our store
// exports, one series per part; real etcd exports none.
func TestParseEmulated(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"ours, nothing emulated", ourMetrics, nil},
		{"ours, region and disk", ourMetrics + "# TYPE adrbench_log_backend_emulated gauge\n" +
			`adrbench_log_backend_emulated{part="adr-region:emulated"} 1` + "\n" +
			`adrbench_log_backend_emulated{part="disk-profile:hdd"} 1` + "\n", []string{"adr-region:emulated", "disk-profile:hdd"}},
		{"etcd", etcdMetrics, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLogMetrics(strings.NewReader(tt.in), expfmt.NewFormat(expfmt.TypeTextPlain))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Emulated, tt.want) {
				t.Fatalf("emulated %v, want %v", got.Emulated, tt.want)
			}
		})
	}
}
