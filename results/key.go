package results

import (
	"strconv"
	"strings"
)

// PointKey is the configuration a point measured: where (target, backend,
// nodes, network delay, disk profile, TLS) and under which load (workload, mode,
// clients and connections, open-loop rate, key and value sizes). Two points
// with equal keys measured the same thing: a resumed sweep skips a planned
// point whose key the run already holds, and a figure compares points whose
// keys differ only where it means them to. It is comparable, so it serves as
// a map key.
type PointKey struct {
	Target      string
	Backend     string
	Nodes       int
	NetDelayMs  float64
	DiskProfile string
	Workload    string
	Mode        string
	Clients     int
	Conns       int
	RateOpsS    float64
	KeySize     int
	ValSize     int
	TLS         bool
}

// Key is p's configuration. What p measured (operations, latency, time, log
// and CPU figures) and what is derived from its configuration (emulated
// parts, unsafe) are not part of it.
func (p *Point) Key() PointKey {
	return PointKey{
		Target: p.Target, Backend: p.Backend, Nodes: p.Nodes, NetDelayMs: p.NetDelayMs, DiskProfile: p.DiskProfile,
		Workload: p.Workload, Mode: p.Mode, Clients: p.Clients, Conns: p.Conns, RateOpsS: p.RateOpsS,
		KeySize: p.KeySize, ValSize: p.ValSize, TLS: p.TLS,
	}
}

// String spells k in one line, field by field in the order of the struct,
// for labels and for ordering keys the same way in every run; "tls" ends
// it only when the point was measured over TLS.
func (k PointKey) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	fields := []string{
		k.Target, k.Backend, "n=" + strconv.Itoa(k.Nodes), "delay_ms=" + f(k.NetDelayMs), "disk=" + k.DiskProfile,
		k.Workload, k.Mode, "c=" + strconv.Itoa(k.Clients) + "/" + strconv.Itoa(k.Conns), "rate=" + f(k.RateOpsS),
		"k=" + strconv.Itoa(k.KeySize), "v=" + strconv.Itoa(k.ValSize),
	}
	if k.TLS {
		fields = append(fields, "tls")
	}
	return strings.Join(fields, "|")
}
