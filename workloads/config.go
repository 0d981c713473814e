package workloads

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workload names.
const (
	Put    = "put"
	Range  = "range"
	Delete = "delete"
	Txn    = "txn"
	Lease  = "lease"
	Watch  = "watch"
	Mixed  = "mixed"
	YCSBA  = "ycsb-a"
	YCSBB  = "ycsb-b"
	YCSBC  = "ycsb-c"
	YCSBD  = "ycsb-d"
	YCSBE  = "ycsb-e"
	YCSBF  = "ycsb-f"
)

// Names lists the workloads New accepts.
func Names() []string {
	return []string{Put, Range, Delete, Txn, Lease, Watch, Mixed, YCSBA, YCSBB, YCSBC, YCSBD, YCSBE, YCSBF}
}

// Key distributions.
const (
	Uniform    = "uniform"
	Zipfian    = "zipfian"
	Latest     = "latest"
	Hotspot    = "hotspot"
	Sequential = "sequential"
)

// Distributions lists the key distributions.
func Distributions() []string {
	return []string{Uniform, Zipfian, Latest, Hotspot, Sequential}
}

// Mix is the weight of each kind of operation in a mixed workload. Weights
// are relative; they need not sum to 100.
type Mix struct {
	Read   float64 `yaml:"read" json:"read"`     // single-key get
	Update float64 `yaml:"update" json:"update"` // put to an existing key
	Insert float64 `yaml:"insert" json:"insert"` // put to a new key
	Scan   float64 `yaml:"scan" json:"scan"`     // range [k, k+n)
	RMW    float64 `yaml:"rmw" json:"rmw"`       // get then put of one key
	Delete float64 `yaml:"delete" json:"delete"`
	Txn    float64 `yaml:"txn" json:"txn"` // compare-and-swap
}

func (m Mix) weights() []float64 {
	return []float64{m.Read, m.Update, m.Insert, m.Scan, m.RMW, m.Delete, m.Txn}
}

// ParseMix parses "read=50,update=50" (names as in Mix's fields).
func ParseMix(s string) (Mix, error) {
	var m Mix
	fields := map[string]*float64{
		"read": &m.Read, "update": &m.Update, "insert": &m.Insert, "scan": &m.Scan,
		"rmw": &m.RMW, "delete": &m.Delete, "txn": &m.Txn,
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("%w: mix %q: %q is not name=weight", ErrConfig, s, part)
		}
		p, known := fields[strings.TrimSpace(name)]
		if !known {
			return Mix{}, fmt.Errorf("%w: mix %q: unknown operation %q", ErrConfig, s, name)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return Mix{}, fmt.Errorf("%w: mix %q: bad weight %q", ErrConfig, s, val)
		}
		*p = f
	}
	return m, nil
}

// Config describes a workload.
type Config struct {
	Name string `yaml:"name" json:"name"` // one of Names()
	// KeySize and ValSize are in bytes; KeySpace is the number of distinct
	// keys before any inserts.
	KeySize  int `yaml:"key_size" json:"key_size"`
	ValSize  int `yaml:"val_size" json:"val_size"`
	KeySpace int `yaml:"key_space" json:"key_space"`
	// Distribution picks keys; "" means the workload's own default
	// (zipfian for YCSB A-C, E, F; latest for D; uniform otherwise).
	Distribution string `yaml:"distribution" json:"distribution"`
	// ZipfTheta is the zipfian skew; YCSB uses 0.99.
	ZipfTheta float64 `yaml:"zipf_theta" json:"zipf_theta"`
	// HotKeyFraction of the keys take HotOpFraction of the operations under
	// the hotspot distribution.
	HotKeyFraction float64 `yaml:"hot_key_fraction" json:"hot_key_fraction"`
	HotOpFraction  float64 `yaml:"hot_op_fraction" json:"hot_op_fraction"`
	// Serializable makes reads serializable (served locally) instead of
	// linearizable.
	Serializable bool `yaml:"serializable" json:"serializable"`
	// Mix weights operations for the "mixed" workload; YCSB workloads
	// set their own.
	Mix Mix `yaml:"mix" json:"mix"`
	// MaxScan bounds a scan's length, drawn uniformly from 1..MaxScan.
	MaxScan int `yaml:"max_scan" json:"max_scan"`
	// TxnKeys is how many keys the compare-and-swap transactions contend
	// on: the fewer, the more of them fail their compare.
	TxnKeys int `yaml:"txn_keys" json:"txn_keys"`
	// LeaseTTL is the TTL granted by the lease workload; leases are kept
	// alive once and then revoked or left to expire.
	LeaseTTL time.Duration `yaml:"lease_ttl" json:"lease_ttl"`
	// LeaseRevoke is the fraction of the lease workload's leases revoked
	// at the end of their round; the rest expire on their own, so both of
	// the lessor's ways of deleting keys are exercised.
	LeaseRevoke float64 `yaml:"lease_revoke" json:"lease_revoke"`
	// Watchers is how many watches the watch workload opens on its key
	// range, spread over the connections; every put is delivered to each.
	Watchers int `yaml:"watchers" json:"watchers"`
	// Seed seeds every worker's random stream together with its id.
	Seed uint64 `yaml:"seed" json:"seed"`
}

// DefaultConfig returns a put workload shaped like etcd's benchmark
// defaults, on a key space of 100k keys.
func DefaultConfig() Config {
	return Config{
		Name:           Put,
		KeySize:        8,
		ValSize:        256,
		KeySpace:       100000,
		ZipfTheta:      0.99,
		HotKeyFraction: 0.2,
		HotOpFraction:  0.8,
		MaxScan:        100,
		TxnKeys:        100,
		LeaseTTL:       5 * time.Second,
		LeaseRevoke:    0.5,
		Watchers:       10,
		Seed:           1,
	}
}

// Validate checks c without side effects and names the first bad field.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if !slices.Contains(Names(), c.Name) {
		return fmt.Errorf("%w: workload %q (known: %s)", ErrUnknown, c.Name, strings.Join(Names(), ", "))
	}
	if c.Distribution != "" && !slices.Contains(Distributions(), c.Distribution) {
		return fmt.Errorf("%w: distribution %q (known: %s)", ErrUnknown, c.Distribution, strings.Join(Distributions(), ", "))
	}
	switch {
	case c.KeySize < 1 || c.KeySize > 1024:
		return bad("key_size %d not in 1..1024", c.KeySize)
	case c.ValSize < 0 || c.ValSize > 1<<20:
		return bad("val_size %d not in 0..1048576", c.ValSize)
	case c.KeySpace < 1:
		return bad("key_space %d < 1", c.KeySpace)
	case c.KeySize < 19 && c.KeySpace > pow10(c.KeySize):
		return bad("key_space %d does not fit in key_size %d (at most %d keys)", c.KeySpace, c.KeySize, pow10(c.KeySize))
	case c.ZipfTheta <= 0 || c.ZipfTheta >= 1:
		return bad("zipf_theta %v not in (0, 1)", c.ZipfTheta)
	case c.HotKeyFraction <= 0 || c.HotKeyFraction > 1:
		return bad("hot_key_fraction %v not in (0, 1]", c.HotKeyFraction)
	case c.HotOpFraction < 0 || c.HotOpFraction > 1:
		return bad("hot_op_fraction %v not in [0, 1]", c.HotOpFraction)
	case c.MaxScan < 1:
		return bad("max_scan %d < 1", c.MaxScan)
	case c.TxnKeys < 1 || c.TxnKeys > c.KeySpace:
		return bad("txn_keys %d not in 1..key_space (%d)", c.TxnKeys, c.KeySpace)
	case c.LeaseTTL < time.Second:
		return bad("lease_ttl %v < 1s", c.LeaseTTL)
	case !(c.LeaseRevoke >= 0 && c.LeaseRevoke <= 1):
		return bad("lease_revoke %v not in [0, 1]", c.LeaseRevoke)
	case c.Name == Watch && (c.Watchers < 1 || c.Watchers > 100000):
		return bad("watchers %d not in 1..100000", c.Watchers)
	case c.Name == Watch && c.ValSize < WatchHeaderSize:
		return bad("val_size %d: the watch workload's values carry a %d-byte header", c.ValSize, WatchHeaderSize)
	}
	if c.Name == Mixed {
		var sum float64
		for _, w := range c.Mix.weights() {
			if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return bad("mix weight %v", w)
			}
			sum += w
		}
		if sum == 0 {
			return bad("mix is empty: give at least one weight")
		}
	}
	return nil
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// mixFor returns the operation mix and default distribution of a workload.
func mixFor(c Config) (Mix, string) {
	switch c.Name {
	case Put, Watch:
		return Mix{Update: 1}, Uniform
	case Range:
		return Mix{Read: 1}, Uniform
	case Delete:
		return Mix{Delete: 1}, Uniform
	case Txn:
		return Mix{Txn: 1}, Uniform
	case YCSBA:
		return Mix{Read: 50, Update: 50}, Zipfian
	case YCSBB:
		return Mix{Read: 95, Update: 5}, Zipfian
	case YCSBC:
		return Mix{Read: 100}, Zipfian
	case YCSBD:
		return Mix{Read: 95, Insert: 5}, Latest
	case YCSBE:
		return Mix{Scan: 95, Insert: 5}, Zipfian
	case YCSBF:
		return Mix{Read: 50, RMW: 50}, Zipfian
	default: // Mixed, Lease
		return c.Mix, Uniform
	}
}

// NeedsLoad reports whether the workload reads keys that must exist first.
func (c Config) NeedsLoad() bool {
	m, _ := mixFor(c)
	return c.Name != Lease && c.Name != Watch && (m.Read > 0 || m.Scan > 0 || m.RMW > 0)
}
