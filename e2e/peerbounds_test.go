package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssBytes is a process's resident set, from /proc.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skip("no /proc to read a process's resident set from: ", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// forgeHello opens a connection to a member's peer port speaking as
// member from of cluster, as anyone can who read both ids from a client
// response header, asking for a connection of kind (0 stream, 1
// snapshot).
func forgeHello(t *testing.T, addr string, kind uint16, cluster, from, to uint64) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var h [32]byte
	copy(h[:], "ADRT")
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint16(h[6:], kind)
	binary.BigEndian.PutUint64(h[8:], cluster)
	binary.BigEndian.PutUint64(h[16:], from)
	binary.BigEndian.PutUint64(h[24:], to)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(h[:]); err != nil {
		t.Fatal(err)
	}
	var rp [26]byte
	if _, err := io.ReadFull(c, rp[:]); err != nil {
		t.Fatalf("reply to a forged hello: %v", err)
	}
	if status := binary.BigEndian.Uint16(rp[6:]); status != 0 {
		t.Fatalf("a forged hello with valid ids was refused with status %d", status)
	}
	return c
}

// TestForgedPeerFramesDoNotGrowMemory speaks to a member's peer port
// without TLS, as anyone who reaches it can: 100 connections announcing
// a 2 GiB stream frame are closed at once, and 100 announcing a 2 GiB
// snapshot are held at the cost of their read buffers and closed at the
// idle deadline. The member's resident set is measured before and after.
func TestForgedPeerFramesDoNotGrowMemory(t *testing.T) {
	const conns = 100
	c := startCluster(t, adrbenchSpec(t), 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cli, err := newClient(c.Endpoints()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// The ids every client response carries.
	st0, err := cli.Status(ctx, c.Member(0).Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	st1, err := cli.Status(ctx, c.Member(1).Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	cluster, victim, posing := st0.Header.ClusterId, st0.Header.MemberId, st1.Header.MemberId
	peerAddr := strings.TrimPrefix(c.Member(0).PeerURL(), "http://")
	pid := c.Member(0).Pid()
	before := rssBytes(t, pid)

	header := binary.BigEndian.AppendUint32(nil, 2<<30)
	for range conns {
		conn := forgeHello(t, peerAddr, 0, cluster, posing, victim)
		if _, err := conn.Write(header); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, conn); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("a stream connection announcing 2 GiB was not closed: %v", err)
		}
		conn.Close()
	}
	afterStream := rssBytes(t, pid)

	held := make([]net.Conn, conns)
	for i := range held {
		held[i] = forgeHello(t, peerAddr, 1, cluster, posing, victim)
		_ = held[i].SetDeadline(time.Now().Add(time.Minute))
		if _, err := held[i].Write(append(header, make([]byte, 1<<10)...)); err != nil {
			t.Fatal(err)
		}
	}
	withHeld := rssBytes(t, pid)
	for _, conn := range held {
		if _, err := io.Copy(io.Discard, conn); err != nil && !isReset(err) {
			t.Fatalf("a silent snapshot connection was not closed at the idle deadline: %v", err)
		}
		conn.Close()
	}
	t.Logf("m0 resident set: %d MiB before, %+d KiB after %d stream connections announcing 2 GiB, %+d KiB with %d snapshot connections announcing 2 GiB held open",
		before>>20, (afterStream-before)>>10, conns, (withHeld-before)>>10, conns)
	if grown := afterStream - before; grown > 32<<20 {
		t.Errorf("the resident set grew by %d MiB after refused 2 GiB frames", grown>>20)
	}
	if grown := withHeld - before; grown > 64<<20 {
		t.Errorf("the resident set grew by %d MiB with %d snapshot connections held", grown>>20, conns)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("the cluster after the forged connections: %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "connection reset")
}
