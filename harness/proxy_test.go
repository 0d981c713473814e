package harness

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
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
