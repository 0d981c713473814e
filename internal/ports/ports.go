// Package ports picks loopback TCP ports for the member processes
// internal/proccluster starts for the harness and the end-to-end tests.
//
// A port the kernel hands out for "127.0.0.1:0" lies in its ephemeral
// range, the range it also draws the local ports of outgoing connections
// from. Once a member is killed its ports are free again, and a client
// reconnecting to it (or any other connection on the host) can be given one
// of them as its local port; the member then fails to restart with "address
// already in use". So Free picks ports below the ephemeral range, which the
// kernel never assigns on its own.
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the smallest port Free returns: above the registered ports
// that services commonly listen on (etcd's 2379 and 2380 among them).
const lowest = 10000

// rangeFile holds the kernel's ephemeral port range on Linux.
const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// Free returns n distinct loopback ports that were free when checked. It
// tries ports below the ephemeral range from a random start, so that
// concurrent callers rarely collide; where that range is too small (the
// ephemeral range was lowered) it falls back to ports the kernel picks.
// The ports are released before Free returns, so another process can still
// take one before the caller binds it: callers retry a start that fails.
func Free(n int) ([]int, error) {
	lo := ephemeralStart()
	span := lo - lowest
	if span < 16*n {
		return kernelPicked(n)
	}
	return scan(n, span, rand.IntN(span))
}

// scan returns the first n ports free in lowest..lowest+span-1, checked
// from lowest+start on and wrapping around.
func scan(n, span, start int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < span && len(ports) < n; i++ {
		p := lowest + (start+i)%span
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // in use
		}
		lns = append(lns, ln)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("ports: only %d of %d loopback ports free in %d..%d", len(ports), n, lowest, lowest+span-1)
	}
	return ports, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range, or
// Linux's default 32768 when the range cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile(rangeFile)
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 {
		return 32768
	}
	return lo
}

// kernelPicked returns n ports the kernel chose, all held until all are
// chosen so none repeats.
func kernelPicked(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("ports: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
