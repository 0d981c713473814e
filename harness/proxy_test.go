package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer echoes every connection until EOF, then half-closes, so a
// test sees both directions of a proxied connection.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string, d LinkDelay) *Proxy {
	t.Helper()
	p, err := ListenProxy("127.0.0.1:0", target, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func TestProxyForwardsInOrder(t *testing.T) {
	tests := []struct {
		name  string
		delay LinkDelay
		size  int
	}{
		{"no delay", LinkDelay{}, 1 << 20},
		{"delay", LinkDelay{Delay: 2 * time.Millisecond}, 1 << 20},
		// Jitter larger than the delay would reorder chunks if the proxy
		// let it; the echo must still come back byte for byte.
		{"jitter", LinkDelay{Delay: time.Millisecond, Jitter: 3 * time.Millisecond}, 1 << 20},
		{"small", LinkDelay{Delay: time.Millisecond, Jitter: time.Millisecond}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, echoServer(t), tc.delay)
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := make([]byte, tc.size)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range want {
				want[i] = byte(rng.Uint32())
			}
			// Written in many small pieces so the delay line holds many
			// chunks at once.
			errc := make(chan error, 1)
			go func() {
				for b := want; len(b) > 0; {
					n := min(len(b), 1+rng.IntN(4096))
					if _, err := c.Write(b[:n]); err != nil {
						errc <- err
						return
					}
					b = b[n:]
				}
				errc <- c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echo of %d bytes came back as %d bytes, not equal", len(want), len(got))
			}
			if st := p.Stats(); st.Conns != 1 || st.Bytes != uint64(2*tc.size) {
				t.Errorf("stats %+v, want 1 connection and %d bytes", st, 2*tc.size)
			}
		})
	}
}

// TestProxyDelaysEachDirection checks the lower bound only: a round trip
// through the proxy cannot take less than twice the one-way delay. An
// upper bound would depend on the machine's load.
func TestProxyDelaysEachDirection(t *testing.T) {
	const d = 20 * time.Millisecond
	p := startProxy(t, echoServer(t), LinkDelay{Delay: d})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	for i := range 3 {
		start := time.Now()
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 2*d {
			t.Fatalf("round trip %v through a %v one-way proxy", rtt, d)
		}
		if buf[0] != byte(i) {
			t.Fatalf("echo %d, want %d", buf[0], i)
		}
	}
}

func TestProxyTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := startProxy(t, dead, LinkDelay{})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read through a proxy to a closed port succeeded")
	}
}

func TestProxyCloseDropsConnections(t *testing.T) {
	p, err := ListenProxy("127.0.0.1:0", echoServer(t), LinkDelay{Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection survived the proxy's Close")
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("closed proxy still accepts")
	}
}

func TestListenProxyInvalid(t *testing.T) {
	tests := []struct {
		name string
		d    LinkDelay
	}{
		{"negative delay", LinkDelay{Delay: -1}},
		{"negative jitter", LinkDelay{Jitter: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ListenProxy("127.0.0.1:0", "127.0.0.1:1", tc.d); !errors.Is(err, ErrConfig) {
				t.Fatalf("ListenProxy: %v, want ErrConfig", err)
			}
		})
	}
}

func TestSourceSniffer(t *testing.T) {
	hello := func(from uint64) []byte {
		b := make([]byte, 32)
		copy(b, "ADRT")
		binary.BigEndian.PutUint16(b[4:], 1)
		binary.BigEndian.PutUint64(b[8:], 99)
		binary.BigEndian.PutUint64(b[16:], from)
		binary.BigEndian.PutUint64(b[24:], 5)
		return b
	}
	stream := "GET /raft/stream/msgappv2/a1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Server-From: a1\r\nX-Raft-To: 5\r\n\r\n"
	probe := "GET /raft/probing HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"
	post := "POST /version HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi"
	tests := []struct {
		name  string
		input []byte
		want  uint64
	}{
		{"adrbench hello", append(hello(0x1234), "frames"...), 0x1234},
		{"etcd stream", []byte(stream), 0xa1},
		{"lower-case header", []byte("GET /raft/stream/message/a1 HTTP/1.1\r\nx-server-from:a1\r\n\r\n"), 0xa1},
		{"probe then stream on a pooled connection", []byte(probe + stream), 0xa1},
		{"probe only", []byte(probe), 0},
		{"request with a body first", []byte(post + stream), 0},
		{"not hex", []byte("GET / HTTP/1.1\r\nX-Server-From: zz\r\n\r\n"), 0},
		{"stranger", []byte("\x00\x01garbage that is neither protocol"), 0},
		{"short hello", hello(7)[:20], 0},
	}
	for _, tc := range tests {
		for _, piece := range []int{1, 3, len(tc.input)} {
			t.Run(fmt.Sprintf("%s/pieces=%d", tc.name, piece), func(t *testing.T) {
				var sn sourceSniffer
				var out []byte
				var id uint64
				for b := tc.input; len(b) > 0; {
					n := min(piece, len(b))
					var got []byte
					got, id = sn.feed(b[:n])
					out = append(out, got...)
					b = b[n:]
					if id != 0 && len(out) < len(tc.input)-len(b) {
						t.Fatalf("identified member %x but held back bytes", id)
					}
				}
				out = append(out, sn.flush()...)
				if id != tc.want {
					t.Errorf("member id %x, want %x", id, tc.want)
				}
				if !bytes.Equal(out, tc.input) {
					t.Errorf("forwarded %q, want the input %q unchanged", out, tc.input)
				}
			})
		}
	}
}

// recordingServer reads every connection to the end, answers each one's
// first byte with "ok", and counts the bytes it received.
type recordingServer struct {
	addr     string
	received atomic.Int64
}

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &recordingServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 4096)
				answered := false
				for {
					n, err := c.Read(buf)
					s.received.Add(int64(n))
					if n > 0 && !answered {
						answered = true
						if _, err := c.Write([]byte("ok")); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	return s
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling, not timing
	}
}

func TestProxyCut(t *testing.T) {
	const me, peer, other = 0x5, 0x7, 0x9
	hello := func(from uint64) []byte {
		b := make([]byte, 32)
		copy(b, "ADRT")
		binary.BigEndian.PutUint64(b[16:], from)
		binary.BigEndian.PutUint64(b[24:], me)
		return b
	}
	httpHead := []byte("GET /raft/stream/message/7 HTTP/1.1\r\nHost: x\r\nX-Server-From: 7\r\n\r\n")
	tests := []struct {
		name    string
		opening []byte
		in, out []uint64
		// whether the member receives the dialler's bytes, and the
		// dialler the member's answer
		upFlows, downFlows bool
	}{
		{"no cut", hello(peer), nil, nil, true, true},
		{"inbound cut from the dialler", hello(peer), []uint64{peer}, nil, false, false},
		{"inbound cut from another member", hello(peer), []uint64{other}, nil, true, true},
		{"outbound cut to the dialler", hello(peer), nil, []uint64{peer}, true, false},
		{"outbound cut to another member", hello(peer), nil, []uint64{other}, true, true},
		{"etcd request from the dialler, inbound cut", httpHead, []uint64{peer}, nil, false, false},
		{"etcd request from the dialler, outbound cut", httpHead, nil, []uint64{peer}, true, false},
		{"a connection that names nobody is never cut", []byte("hello?"), []uint64{peer, other}, []uint64{peer, other}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecordingServer(t)
			p := startProxy(t, srv.addr, LinkDelay{})
			p.Cut(tc.in, tc.out)
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			payload := append(append([]byte(nil), tc.opening...), "some frames"...)
			if _, err := c.Write(payload); err != nil {
				t.Fatal(err)
			}
			if tc.upFlows {
				waitFor(t, "the member to receive the dialler's bytes", func() bool { return srv.received.Load() == int64(len(payload)) })
			} else {
				waitFor(t, "the proxy to drop the dialler's bytes", func() bool { return p.Stats().Dropped >= uint64(len(payload)) })
				if got := srv.received.Load(); got != 0 {
					t.Fatalf("the member received %d bytes over a cut link", got)
				}
			}
			if tc.downFlows {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
					t.Fatalf("answer through an uncut direction: %v", err)
				}
			} else if tc.upFlows {
				waitFor(t, "the proxy to drop the member's answer", func() bool { return p.Stats().Dropped >= 2 })
			}
		})
	}
}

func TestProxyHealClosesBrokenConnections(t *testing.T) {
	const peer = 0x7
	srv := newRecordingServer(t)
	p := startProxy(t, srv.addr, LinkDelay{})
	b := make([]byte, 32)
	copy(b, "ADRT")
	binary.BigEndian.PutUint64(b[16:], peer)

	// A connection opened before the cut, with an idle direction, keeps
	// working after the heal; one that lost bytes is closed by it.
	idle, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := idle.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(idle, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	p.Cut([]uint64{peer}, nil)
	broken, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer broken.Close()
	if _, err := broken.Write(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hello to be dropped", func() bool { return p.Stats().Dropped >= 32 })
	p.Cut(nil, nil)
	broken.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := broken.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection that lost bytes still works after the heal")
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a connection that lost bytes was not closed by the heal")
	}
	before := srv.received.Load()
	if _, err := idle.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection to carry bytes after the heal", func() bool { return srv.received.Load() == before+4 })
}
