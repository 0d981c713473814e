package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/adrbench/adrbench/harness"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/workloads"
)

// Config is a sweep: the axes of the matrix and what every point shares.
// Its YAML form is the file `adrbench sweep` reads; fields left out keep
// DefaultConfig's values.
type Config struct {
	Name string `yaml:"name" json:"name"`
	// The matrix: every combination is one closed-loop point (targets etcd
	// and external take no backend and are planned once per combination
	// of the other axes; process runs the backends as inproc does, at the
	// native disk and no delay only).
	Targets      []string        `yaml:"targets" json:"targets"`
	Backends     []string        `yaml:"backends" json:"backends"`
	Nodes        []int           `yaml:"nodes" json:"nodes"`
	NetDelays    []time.Duration `yaml:"net_delays" json:"net_delays"`
	DiskProfiles []string        `yaml:"disk_profiles" json:"disk_profiles"`
	Clients      []Clients       `yaml:"clients" json:"clients"`
	// TLS runs each point without TLS, with it, or both ([false, true]):
	// process and etcd members with client and peer TLS, external
	// endpoints reached with the cluster's CA and client certificate.
	// Target inproc has no TLS and runs only the points without.
	TLS []bool `yaml:"tls" json:"tls"`

	Workload workloads.Config `yaml:"workload" json:"workload"`
	// Total or Duration (or both: whichever ends first) bounds each
	// point's measurement; Warmup runs before it, unmeasured.
	Total     int64         `yaml:"total" json:"total"`
	Duration  time.Duration `yaml:"duration" json:"duration"`
	Warmup    time.Duration `yaml:"warmup" json:"warmup"`
	OpTimeout time.Duration `yaml:"op_timeout" json:"op_timeout"`
	ToLeader  bool          `yaml:"to_leader" json:"to_leader"`

	// OpenLoop, when it has rates, adds one open-loop point per rate for
	// each of the matrix's combinations it selects.
	OpenLoop OpenLoop `yaml:"open_loop" json:"open_loop"`

	Cluster ClusterSettings `yaml:"cluster" json:"cluster"`
}

// Clients is one closed-loop client count and the connections they share.
type Clients struct {
	Clients int `yaml:"clients" json:"clients"`
	Conns   int `yaml:"conns" json:"conns"`
}

// OpenLoop is the open-loop part of a sweep: points at fixed rates, to find
// where each configuration's latency turns up (its knee).
type OpenLoop struct {
	// Rates are operations per second, all clients together; each is a
	// point of its own.
	Rates []float64 `yaml:"rates" json:"rates"`
	// Clients and Conns must be enough to keep the highest rate due:
	// a client waits for its operation before taking the next one.
	Clients int `yaml:"clients" json:"clients"`
	Conns   int `yaml:"conns" json:"conns"`
	// Nodes, Backends and DiskProfiles select from the matrix's axes;
	// empty means all.
	Nodes        []int    `yaml:"nodes" json:"nodes"`
	Backends     []string `yaml:"backends" json:"backends"`
	DiskProfiles []string `yaml:"disk_profiles" json:"disk_profiles"`
	// Duration of each rate's point; 0 means the sweep's Duration (and
	// Total, if that is what the sweep uses).
	Duration time.Duration `yaml:"duration" json:"duration"`
}

// ClusterSettings are what every point's cluster shares.
type ClusterSettings struct {
	// Endpoints are the client URLs for target external.
	Endpoints []string `yaml:"endpoints" json:"endpoints"`
	// CACert, Cert and Key reach target external over TLS (points with
	// tls true).
	CACert string `yaml:"cacert" json:"cacert"`
	Cert   string `yaml:"cert" json:"cert"`
	Key    string `yaml:"key" json:"key"`
	// EtcdBinary is the etcd executable for target etcd ("etcd": PATH).
	EtcdBinary        string        `yaml:"etcd_binary" json:"etcd_binary"`
	SnapshotCount     uint64        `yaml:"snapshot_count" json:"snapshot_count"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval"`
	ElectionTimeout   time.Duration `yaml:"election_timeout" json:"election_timeout"`
	StartTimeout      time.Duration `yaml:"start_timeout" json:"start_timeout"`
}

// DefaultConfig is a one-point sweep shaped like harness.DefaultBenchConfig:
// 10k puts by one client to one inproc member on the batched backend.
func DefaultConfig() Config {
	b := harness.DefaultBenchConfig()
	return Config{
		Name:         "sweep",
		Targets:      []string{harness.TargetInproc},
		Backends:     []string{b.Cluster.LogBackend},
		Nodes:        []int{1},
		NetDelays:    []time.Duration{0},
		DiskProfiles: []string{diskprofile.Native},
		Clients:      []Clients{{Clients: 1, Conns: 1}},
		TLS:          []bool{false},
		Workload:     b.Workload,
		Total:        b.Run.Total,
		OpTimeout:    b.Run.OpTimeout,
		Cluster: ClusterSettings{
			EtcdBinary:        "etcd",
			SnapshotCount:     b.Cluster.SnapshotCount,
			HeartbeatInterval: b.Cluster.HeartbeatInterval,
			ElectionTimeout:   b.Cluster.ElectionTimeout,
			StartTimeout:      b.Cluster.StartTimeout,
		},
	}
}

// FieldError names the config field that is wrong and, when the config came
// from a file, the line it is on.
type FieldError struct {
	File  string // "" when not from a file
	Line  int    // 0 when unknown
	Field string // a path: "nodes[2]", "open_loop.rates[0]"
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	fmt.Fprintf(&b, "%s: %s", e.Field, e.Msg)
	return b.String()
}

// Unwrap makes every FieldError an ErrConfig.
func (e *FieldError) Unwrap() error { return ErrConfig }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Load reads a sweep config file over DefaultConfig and validates it.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return Parse(path, data)
}

// Parse decodes YAML over DefaultConfig, refusing unknown fields, and
// validates the result; errors name the file (name), line and field.
func Parse(name string, data []byte) (Config, error) {
	c := DefaultConfig()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		// yaml's own message already says "line N: field x not found".
		return Config{}, fmt.Errorf("%w: %s: %s", ErrConfig, name, strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:")), " "))
	}
	// total and duration bound a point together (whichever ends first); a
	// file that sets only one means that one, not it plus the default of
	// the other.
	switch total, duration := hasKey(&root, "total"), hasKey(&root, "duration"); {
	case duration && !total:
		c.Total = 0
	case total && !duration:
		c.Duration = 0
	}
	if err := c.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.File = name
			fe.Line = lineOf(&root, fe.Field)
		}
		return Config{}, err
	}
	return c, nil
}

// Validate checks c without side effects and names the first bad field.
// What needs the environment (the backend registry, the etcd binary) and
// every point's own harness check are Expand's.
func (c Config) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, `/\ `) {
		return fieldErr("name", "%q: want a non-empty name without slashes or spaces (it names the run directory)", c.Name)
	}
	if err := c.validateAxes(); err != nil {
		return err
	}
	if err := c.validateLoad(); err != nil {
		return err
	}
	return c.validateOpenLoop()
}

// validateAxes checks the matrix: targets, backends, cluster sizes, network
// delays and disk profiles.
func (c Config) validateAxes() error {
	if len(c.Targets) == 0 {
		return fieldErr("targets", "empty")
	}
	for i, t := range c.Targets {
		if !slices.Contains(harness.Targets(), t) {
			return fieldErr(idx("targets", i), "%q (known: %s)", t, strings.Join(harness.Targets(), ", "))
		}
		if slices.Index(c.Targets, t) != i {
			return fieldErr(idx("targets", i), "%q is listed twice", t)
		}
	}
	if slices.ContainsFunc(c.Targets, takesBackend) && len(c.Backends) == 0 {
		return fieldErr("backends", "empty, and targets inproc and process need at least one")
	}
	for i, b := range c.Backends {
		if b == "" || slices.Index(c.Backends, b) != i {
			return fieldErr(idx("backends", i), "%q is empty or listed twice", b)
		}
	}
	if len(c.Nodes) == 0 {
		return fieldErr("nodes", "empty")
	}
	for i, n := range c.Nodes {
		if n < 1 || n > 15 || slices.Index(c.Nodes, n) != i {
			return fieldErr(idx("nodes", i), "%d: want distinct sizes in 1..15", n)
		}
	}
	if len(c.NetDelays) == 0 {
		return fieldErr("net_delays", "empty (give [0s] for none)")
	}
	for i, d := range c.NetDelays {
		if d < 0 || slices.Index(c.NetDelays, d) != i {
			return fieldErr(idx("net_delays", i), "%v: want distinct delays >= 0", d)
		}
	}
	if len(c.TLS) == 0 {
		return fieldErr("tls", "empty (give [false] for none)")
	}
	for i, v := range c.TLS {
		if slices.Index(c.TLS, v) != i {
			return fieldErr(idx("tls", i), "%v is listed twice", v)
		}
	}
	if len(c.DiskProfiles) == 0 {
		return fieldErr("disk_profiles", "empty (give [native] for none)")
	}
	for i, p := range c.DiskProfiles {
		if _, err := diskprofile.Lookup(p); err != nil {
			return fieldErr(idx("disk_profiles", i), "%v", err)
		}
		if slices.Index(c.DiskProfiles, p) != i {
			return fieldErr(idx("disk_profiles", i), "%q is listed twice", p)
		}
	}
	return nil
}

// validateLoad checks what loads every point: the client counts, the
// workload and how long a point runs.
func (c Config) validateLoad() error {
	if len(c.Clients) == 0 && len(c.OpenLoop.Rates) == 0 {
		return fieldErr("clients", "empty, and there are no open-loop rates: nothing to run")
	}
	for i, cl := range c.Clients {
		f := idx("clients", i)
		if cl.Clients < 1 {
			return fieldErr(f+".clients", "%d < 1", cl.Clients)
		}
		if cl.Conns < 1 || cl.Conns > cl.Clients {
			return fieldErr(f+".conns", "%d not in 1..clients (%d)", cl.Conns, cl.Clients)
		}
	}
	if err := c.Workload.Validate(); err != nil {
		return fieldErr(workloadField(err), "%v", err)
	}
	switch {
	case c.Total < 0:
		return fieldErr("total", "%d is negative", c.Total)
	case c.Duration < 0:
		return fieldErr("duration", "%v is negative", c.Duration)
	case c.Total == 0 && c.Duration == 0:
		return fieldErr("duration", "neither total nor duration is set: a point would never end")
	case c.Warmup < 0:
		return fieldErr("warmup", "%v is negative", c.Warmup)
	case c.OpTimeout < 0:
		return fieldErr("op_timeout", "%v is negative", c.OpTimeout)
	}
	return nil
}

func (c Config) validateOpenLoop() error {
	o := c.OpenLoop
	if len(o.Rates) == 0 {
		if o.Clients != 0 || o.Conns != 0 || len(o.Nodes) > 0 || len(o.Backends) > 0 || len(o.DiskProfiles) > 0 || o.Duration != 0 {
			return fieldErr("open_loop.rates", "empty, but other open_loop fields are set")
		}
		return nil
	}
	for i, r := range o.Rates {
		if !(r > 0) || math.IsInf(r, 0) || slices.Index(o.Rates, r) != i {
			return fieldErr(idx("open_loop.rates", i), "%v: want distinct rates > 0", r)
		}
	}
	if o.Clients < 1 {
		return fieldErr("open_loop.clients", "%d < 1", o.Clients)
	}
	if o.Conns < 1 || o.Conns > o.Clients {
		return fieldErr("open_loop.conns", "%d not in 1..clients (%d)", o.Conns, o.Clients)
	}
	for i, n := range o.Nodes {
		if !slices.Contains(c.Nodes, n) {
			return fieldErr(idx("open_loop.nodes", i), "%d is not among nodes %v", n, c.Nodes)
		}
	}
	for i, b := range o.Backends {
		if !slices.Contains(c.Backends, b) {
			return fieldErr(idx("open_loop.backends", i), "%q is not among backends %v", b, c.Backends)
		}
	}
	for i, d := range o.DiskProfiles {
		if !slices.Contains(c.DiskProfiles, d) {
			return fieldErr(idx("open_loop.disk_profiles", i), "%q is not among disk_profiles %v", d, c.DiskProfiles)
		}
	}
	if o.Duration < 0 {
		return fieldErr("open_loop.duration", "%v is negative", o.Duration)
	}
	return nil
}

// Quick returns c shrunk for a smoke run: at most 1s (or 500 operations)
// measured and 200ms of warm-up per point. The matrix is unchanged, so a
// quick run draws every figure a full one would.
func (c Config) Quick() Config {
	const (
		maxDur    = time.Second
		maxTotal  = 500
		maxWarmup = 200 * time.Millisecond
	)
	if c.Duration > maxDur {
		c.Duration = maxDur
	}
	if c.Total > maxTotal {
		c.Total = maxTotal
	}
	c.Warmup = min(c.Warmup, maxWarmup)
	if c.OpenLoop.Duration > maxDur {
		c.OpenLoop.Duration = maxDur
	}
	return c
}

// YAML renders c as a sweep file would spell it; run.json keeps it so the
// report shows the effective config in the form the user wrote.
func (c Config) YAML() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		// Config holds only plain values; failing to encode it is a bug.
		panic("sweep: encode config: " + err.Error())
	}
	return string(out)
}

// workloadField names the workload field an error of workloads.Validate is
// about (its messages start with the field's YAML name), so the error can
// point at that line.
func workloadField(err error) string {
	msg := err.Error()
	t := reflect.TypeFor[workloads.Config]()
	best := ""
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" && strings.Contains(msg, " "+name+" ") && len(name) > len(best) {
			best = name
		}
	}
	if best == "" {
		return "workload"
	}
	return "workload." + best
}

func idx(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// lineOf finds the line of a field path ("clients[1].conns") in a decoded
// YAML document, or of its nearest ancestor present; 0 when none is.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		key, val := mappingEntry(n, name)
		if key == nil {
			return line
		}
		line, n = key.Line, val
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

// mappingEntry returns the key and value nodes of key in mapping n.
func mappingEntry(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// hasKey reports whether the YAML document root is a mapping with key.
func hasKey(root *yaml.Node, key string) bool {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
