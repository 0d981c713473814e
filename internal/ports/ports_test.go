package ports

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeBelowEphemeralRange(t *testing.T) {
	lo := ephemeralStart()
	if lo-lowest < 16*6 {
		t.Skipf("the ephemeral range starts at %d: too low for ports below it, Free uses the kernel's", lo)
	}
	ports, err := Free(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lowest || p >= lo {
			t.Errorf("port %d outside %d..%d", p, lowest, lo-1)
		}
		if seen[p] {
			t.Errorf("port %d returned twice", p)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d is not free after Free returned: %v", p, err)
			continue
		}
		ln.Close()
	}
}

func TestScanSkipsPortsInUse(t *testing.T) {
	// Hold the port a scan starts at; the scan must pass over it, and
	// wrap around the end of its span.
	const span = 64
	var held net.Listener
	start := -1
	for s := range span {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lowest+s))
		if err == nil {
			held, start = ln, s
			break
		}
	}
	if held == nil {
		t.Skipf("no free port in %d..%d to hold", lowest, lowest+span-1)
	}
	defer held.Close()
	got, err := scan(3, span, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p == lowest+start {
			t.Fatalf("scan returned port %d, which is in use", p)
		}
		if p < lowest || p >= lowest+span {
			t.Fatalf("scan returned port %d outside its span", p)
		}
	}
	if _, err := scan(span, span, start); err == nil {
		t.Fatal("a scan for every port of a span with one held succeeded")
	}
}

func TestKernelPicked(t *testing.T) {
	ports, err := kernelPicked(4)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 4 || ports[0] == ports[1] {
		t.Fatalf("ports %v", ports)
	}
}
