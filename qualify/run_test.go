package qualify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// tinyLimits keep every measurement well under a second.
func tinyLimits() Limits {
	return Limits{
		DiskRounds: 2, DiskRound: 150 * time.Millisecond, WALBytes: 1 << 20, WAL8kBytes: 1 << 20, Disk8k: 100 * time.Millisecond,
		Commit: 100 * time.Millisecond, CommitFile: 1 << 20, PMemFlushes: 1000, CPU: 300 * time.Millisecond,
		NetProbes: 20, NetInterval: time.Millisecond, NetTimeout: 2 * time.Second, NetThroughput: 100 * time.Millisecond,
		E2ETier: 500 * time.Millisecond, E2EWarmup: 100 * time.Millisecond,
	}
}

func testBackends() *logbackends.Registry {
	r := logbackends.NewRegistry()
	r.Register(batched.NewEntry(batched.DefaultConfig()))
	r.Register(memory.NewEntry())
	return r
}

// only returns a config for dir that runs just the given groups.
func only(dir string, groups ...string) Config {
	cfg := DefaultConfig()
	cfg.Dir, cfg.Limits, cfg.Backends, cfg.E2ETarget = dir, tinyLimits(), testBackends(), "inproc"
	for _, g := range Groups() {
		if !slices.Contains(groups, g) {
			cfg.Skip = append(cfg.Skip, g)
		}
	}
	return cfg
}

func checksByKey(rep *Report) map[string]Check {
	m := map[string]Check{}
	for _, c := range rep.Checks {
		m[c.Key()] = c
	}
	return m
}

// TestDiskRunsForReal measures the disk patterns on the test's temporary
// directory, on the real file system, and fio beside them when it is on
// PATH.
func TestDiskRunsForReal(t *testing.T) {
	dir := t.TempDir()
	rep, err := Run(t.Context(), only(dir, GroupDisk))
	if err != nil {
		t.Fatal(err)
	}
	cs := checksByKey(rep)
	for _, name := range []string{"disk.wal_fdatasync_p99", "disk.wal_iops", "disk.wal8k_fdatasync_p99", "disk.wal8k_iops", "disk.commit_p99"} {
		c, ok := cs[name]
		if !ok || c.Verdict == Skip || !(c.Value > 0) {
			t.Errorf("%s not measured: %+v", name, c)
		}
	}
	if d := cs["disk.wal_fdatasync_p99"].Details; d["samples"] < 2 || d["p50_ms"] > d["p99_ms"] || d["p99_ms"] > d["max_ms"] {
		t.Errorf("WAL details %v", d)
	}
	fio := cs["disk.fio_wal_fdatasync_p99"]
	if fio.Verdict == Skip {
		t.Logf("fio not compared: %s", fio.Reason)
	} else if !(fio.Value > 0) || cs["disk.go_fio_disagreement"].Verdict == Skip {
		t.Errorf("fio ran but measured nothing: %+v", fio)
	}
	for _, name := range []string{"disk.fs_durable", "disk.barriers", "disk.free_space"} {
		if cs[name].Verdict == "" {
			t.Errorf("%s missing", name)
		}
	}
	if rep.Host.DirMount == nil {
		t.Error("the directory's mount is not described")
	}
	assertEmpty(t, dir)
}

// TestSlowFileSystemFails injects 15 ms into every sync through the vfs:
// the same measurement must now fail the disk checks, with the measured
// figures in them.
func TestSlowFileSystemFails(t *testing.T) {
	dir := t.TempDir()
	slow, err := diskprofile.Fixed(15 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := only(dir, GroupDisk)
	cfg.FS = diskprofile.Wrap(vfs.OS{}, slow)
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != Fail {
		t.Fatalf("verdict %s on a 15 ms disk", rep.Verdict)
	}
	cs := checksByKey(rep)
	wal := cs["disk.wal_fdatasync_p99"]
	if wal.Verdict != Fail || wal.Value < 15 || !strings.Contains(wal.Reason, "≥ 10 ms") {
		t.Errorf("WAL p99 %+v", wal)
	}
	if c := cs["disk.commit_p99"]; c.Verdict != Fail || c.Value < 30 {
		t.Errorf("commit p99 (two syncs per commit) %+v", c)
	}
	if c := cs["disk.wal_iops"]; c.Value > 1000.0/15 {
		t.Errorf("%v IOPS at 15 ms a sync", c.Value)
	}
	if c := cs["disk.fio_wal_fdatasync_p99"]; c.Verdict != Skip || !strings.Contains(c.Reason, "injected") {
		t.Errorf("fio cannot see an injected file system: %+v", c)
	}
	assertEmpty(t, dir)
}

func unwritableDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if f, err := os.CreateTemp(dir, "probe"); err != nil {
		return dir
	} else {
		f.Close()
		os.Remove(f.Name())
	}
	// Root ignores permissions; sysfs refuses new directories to anyone.
	if d, err := os.MkdirTemp("/sys", "probe"); err != nil {
		return "/sys"
	} else {
		os.Remove(d)
	}
	t.Skip("running as root with no directory that refuses writes")
	return ""
}

func TestRunCannotRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "does not exist"},
		{"a file", file, "is not a directory"},
		{"not writable", unwritableDir(t), "is not writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t.Context(), only(tt.dir, GroupDisk))
			if !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), tt.dir) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrCannotRun naming %s and %q", err, tt.dir, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"bad peer", func(c *Config) { c.Peers = []string{"no-port"} }, ErrPeer},
		{"peer port out of range", func(c *Config) { c.Peers = []string{"h:70000"} }, ErrPeer},
		{"unknown group", func(c *Config) { c.Skip = []string{"gpu"} }, ErrConfig},
		{"bad target", func(c *Config) { c.E2ETarget = "etcd" }, ErrConfig},
		{"bad tier", func(c *Config) { c.Tiers = []Tier{{Name: "xxl", Rate: 1, Clients: 1}} }, ErrConfig},
		{"no backends", func(c *Config) { c.Backends = nil }, ErrConfig},
		{"bad profile", func(c *Config) { c.Profile.Name = "" }, ErrProfile},
		{"negative duration", func(c *Config) { c.Limits.CPU = -1 }, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := only(t.TempDir(), Groups()...)
			tt.mod(&cfg)
			if err := cfg.Validate(); !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRunWritesResults checks qualify.json against the contract, the raw
// histograms, the figure and the report, and that ReadDir reads them back.
func TestRunWritesResults(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := only(dir, GroupDisk, GroupPMem, GroupMemory, GroupClock)
	cfg.Out = out
	if _, err := Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, dir)
	data, err := os.ReadFile(filepath.Join(out, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema  string         `json:"schema"`
		Host    map[string]any `json:"host"`
		Profile string         `json:"profile"`
		Verdict string         `json:"verdict"`
		Checks  []map[string]any
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "adrbench.qualify/v1" || doc.Host == nil || doc.Profile != "etcd" || !slices.Contains([]string{"pass", "warn", "fail"}, doc.Verdict) {
		t.Fatalf("qualify.json: %s %v %s %s", doc.Schema, doc.Host, doc.Profile, doc.Verdict)
	}
	names := map[string]bool{}
	for _, c := range doc.Checks {
		for _, f := range []string{"name", "value", "unit", "threshold", "verdict", "source"} {
			if _, ok := c[f]; !ok {
				t.Errorf("check %v lacks %q", c["name"], f)
			}
		}
		names[c["name"].(string)] = true
	}
	for _, n := range []string{"disk.wal_fdatasync_p99", "disk.wal_iops", "disk.commit_p99"} {
		if !names[n] {
			t.Errorf("qualify.json lacks %s", n)
		}
	}
	for _, f := range []string{ReportFile, "histograms/wal-fdatasync.hgrm", "histograms/commit.hgrm", "wal-fdatasync.png", "wal-fdatasync.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	verdictAt := strings.Index(page, `class="verdict v-`+doc.Verdict+`"`)
	if verdictAt < 0 || verdictAt > strings.Index(page, "wal-fdatasync.png") || verdictAt > strings.Index(page, "All checks") {
		t.Errorf("report.html does not open with the verdict")
	}
	rep, err := ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Histograms) == 0 || rep.Histograms[0].Hist() == nil || rep.Histograms[0].Hist().TotalCount() == 0 {
		t.Errorf("histograms not read back: %+v", rep.Histograms)
	}
	if _, err := Run(t.Context(), cfg); !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("a second run into the same --out: %v", err)
	}
	assertEmpty(t, dir)
}

func TestCPUCapacity(t *testing.T) {
	dir := t.TempDir()
	rep, err := Run(t.Context(), only(dir, GroupCPU))
	if err != nil {
		t.Fatal(err)
	}
	cs := checksByKey(rep)
	c := cs["cpu.writes_per_core"]
	if c.Verdict == Skip || !(c.Value > 0) || !(c.Details["cpu_per_write_us"] > 0) {
		t.Fatalf("%+v", c)
	}
	if cs["cpu.cores"].Value < 1 || cs["cpu.steal"].Verdict == "" {
		t.Fatalf("cores %+v, steal %+v", cs["cpu.cores"], cs["cpu.steal"])
	}
}

// TestE2EInproc runs the end-to-end tiers, made small, against an
// in-process member (a test binary cannot start `adrbench serve`).
func TestE2EInproc(t *testing.T) {
	dir := t.TempDir()
	cfg := only(dir, GroupE2E)
	cfg.Tiers = []Tier{{Name: "s", Rate: 40, Clients: 4}, {Name: "m", Rate: 80, Clients: 8}}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := checksByKey(rep)["e2e.highest_tier"]
	if c.Verdict == Skip || c.Value < 0 || c.Value > 2 || !strings.Contains(c.Text, "batched") {
		t.Fatalf("%+v", c)
	}
	if len(rep.E2E) != 2 {
		t.Fatalf("tiers %+v", rep.E2E)
	}
	for _, tr := range rep.E2E {
		if tr.Error != "" || tr.Ops == 0 || !(tr.Throughput > 0) || !(tr.P99Ms > 0) {
			t.Errorf("tier %s: %+v", tr.Name, tr)
		}
	}
	assertEmpty(t, dir)
}

// TestCancelLeavesNothing cancels a run as its first check completes: it
// must end with ErrCannotRun and an empty directory.
func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg := only(dir, GroupDisk, GroupE2E)
	cfg.OnCheck = func(Check) { cancel() }
	_, err := Run(ctx, cfg)
	if !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
	assertEmpty(t, dir)
}

// TestPeersOnLoopback runs the network checks against a responder on
// loopback and a peer that is not there: the live one reports an RTT, the
// dead one fails its RTT check with the reason, and nothing else fails.
func TestPeersOnLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, DefaultServeOptions()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := gone.Addr().String()
	gone.Close()

	live := ln.Addr().String()
	cfg := only(t.TempDir(), GroupNet)
	cfg.Peers = []string{live, dead}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs := checksByKey(rep)
	rtt := cs["net.rtt_p99@"+live]
	if rtt.Verdict != Pass || !(rtt.Value > 0) || rtt.Details["probes"] != 20 {
		t.Errorf("live RTT %+v", rtt)
	}
	if c := cs["net.loss@"+live]; c.Verdict != Pass || c.Value != 0 {
		t.Errorf("live loss %+v", c)
	}
	if c := cs["net.throughput@"+live]; c.Verdict == Skip || !(c.Details["up_mbit_s"] > 0) || !(c.Details["down_mbit_s"] > 0) {
		t.Errorf("live throughput %+v", c)
	}
	if c := cs["net.rtt_p99@"+dead]; c.Verdict != Fail || !strings.Contains(c.Reason, "refused") {
		t.Errorf("dead RTT %+v", c)
	}
	var fails []string
	for _, c := range rep.Checks {
		if c.Verdict == Fail {
			fails = append(fails, c.Key())
		}
	}
	if len(fails) != 1 || fails[0] != "net.rtt_p99@"+dead {
		t.Errorf("failed checks %v, want only the dead peer's RTT", fails)
	}
}

func TestServeRefusesOtherProtocols(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, DefaultServeOptions()) }()
	defer func() {
		cancel()
		<-served
	}()
	tests := []struct {
		name  string
		hello []byte
		then  []byte
		want  string // what the client reads before the connection ends
	}{
		{"another version", []byte("ADRQ\x07"), nil, "ADRQ\x01"},
		{"not the protocol", []byte("GET / HTTP/1.1\r\n\r\n"), nil, ""},
		{"a frame over the limit", []byte("ADRQ\x01"), []byte{'P', 0x00, 0x10, 0x00, 0x01}, "ADRQ\x01"},
		{"an unknown frame", []byte("ADRQ\x01"), []byte{'Z', 0, 0, 0, 0}, "ADRQ\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(append(tt.hello, tt.then...)); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(c)
			if err != nil {
				t.Fatalf("the responder did not close the connection: %v (read %q)", err, got)
			}
			if string(got) != tt.want {
				t.Fatalf("read %q, want %q", got, tt.want)
			}
		})
	}
}

// TestProbeNamesTheVersion checks the client side: a responder of another
// protocol version is reported as such.
func TestProbeNamesTheVersion(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var hello [5]byte
		if _, err := io.ReadFull(c, hello[:]); err == nil {
			c.Write([]byte("ADRQ\x07"))
		}
	}()
	_, err = probePeer(t.Context(), ln.Addr().String(), tinyLimits(), nil)
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "version 7") {
		t.Fatalf("err = %v", err)
	}
}

// readAll reads until the peer closes; a timeout is an error.
func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 256)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out, err
			}
			return out, nil
		}
	}
}

// TestAbandonedWorkRemoved checks that a temporary directory left by a
// qualification that was killed is removed by the next one, and one whose
// owner still runs is not.
func TestAbandonedWorkRemoved(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1) to make a process id that has ended: ", err)
	}
	mk := func(name string, pid int) string {
		t.Helper()
		p := filepath.Join(dir, workPrefix+name)
		if err := os.MkdirAll(filepath.Join(p, "disk"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, ownerFile), []byte(strconv.Itoa(pid)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abandoned := mk("killed", dead.Process.Pid)
	running := mk("running", os.Getpid())
	rep, err := Run(t.Context(), only(dir, GroupClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abandoned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned directory still there: %v", err)
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("a running qualification's directory was removed: %v", err)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, abandoned) }) {
		t.Errorf("notes %v do not say what was removed", rep.Notes)
	}
	if err := os.RemoveAll(running); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, dir)
}
