package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/adrbench/adrbench/store/transport"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tcpMember is a one-member cluster on the real peer transport.
type tcpMember struct {
	s   *Server
	log *syncBuffer
}

func startTCPMember(t *testing.T, edit func(*Config)) *tcpMember {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "m")
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cfg.ListenPeerURLs = []string{peer}
	cfg.AdvertisePeerURLs = []string{peer}
	cfg.InitialCluster = []Member{{Name: cfg.Name, PeerURLs: []string{peer}}}
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.ElectionTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenClientURLs = []string{"http://" + ln.Addr().String()}
	cfg.AdvertiseClientURLs = cfg.ListenClientURLs
	if edit != nil {
		edit(&cfg)
	}
	logs := &syncBuffer{}
	s, err := NewServer(cfg, testRegistry(), WithClientListener(ln),
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &tcpMember{s: s, log: logs}
}

// scrapeCounter reads the counter name{label="value"} from /metrics.
func scrapeCounter(t *testing.T, clientAddr, name, label, value string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + clientAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	mf := families[name]
	if mf == nil || mf.GetType() != dto.MetricType_COUNTER {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

// Without peer TLS the member says at startup that its peer port is open
// to anyone, and a connection it refuses is counted on /metrics.
func TestPeerPortWarnsAndCountsRejections(t *testing.T) {
	m := startTCPMember(t, nil)
	if !strings.Contains(m.log.String(), "peer port accepts raft messages from anyone") {
		t.Fatalf("no warning about the open peer port in the log:\n%s", m.log)
	}
	peerAddr := m.s.Transport().(*transport.TCP).Addr().String()
	c, err := net.Dial("tcp", peerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A hello with the right cluster id from a member that does not exist.
	var h [32]byte
	copy(h[:], "ADRT")
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint64(h[8:], m.s.ClusterID())
	binary.BigEndian.PutUint64(h[16:], 99)
	binary.BigEndian.PutUint64(h[24:], m.s.ID())
	if _, err := c.Write(h[:]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, c) // until the member closes it
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok := scrapeCounter(t, m.s.ClientAddr(), MetricPeerRejected, "reason", transport.RejectHandshake)
		if ok && v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{reason=%q} = %v (present %v), want 1", MetricPeerRejected, transport.RejectHandshake, v, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok := scrapeCounter(t, m.s.ClientAddr(), MetricPeerRejected, "reason", transport.RejectTooLarge); !ok || v != 0 {
		t.Fatalf("%s{reason=%q} = %v (present %v), want 0", MetricPeerRejected, transport.RejectTooLarge, v, ok)
	}
}
