package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/internal/lossyfs"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/memory"
	"github.com/adrbench/adrbench/store/transport"
)

func TestBootstrapLog(t *testing.T) {
	peers := []uint64{0x11, 0x22, 0x33}
	ents, err := bootstrapEntries(peers)
	if err != nil {
		t.Fatal(err)
	}
	other := proto.Clone(ents[0]).(*raftpb.Entry)
	other.Data, _ = proto.Marshal(&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(uint64(0x99))})
	tests := []struct {
		name string
		// before is what the log holds when bootstrapLog runs.
		before func(b logbackends.Backend) error
		// refused is set when bootstrapLog must refuse the log.
		refused bool
	}{
		{name: "an empty log", before: func(logbackends.Backend) error { return nil }},
		{name: "the first entry of the bootstrap", before: func(b logbackends.Backend) error {
			return b.Save(nil, ents[:1], nil, true)
		}},
		{name: "every entry but no hard state", before: func(b logbackends.Backend) error {
			return b.Save(nil, ents, nil, true)
		}},
		{name: "the whole bootstrap", before: func(b logbackends.Backend) error {
			return bootstrapLog(b, peers, "dir")
		}},
		{name: "another member's entry", refused: true, before: func(b logbackends.Backend) error {
			return b.Save(nil, []*raftpb.Entry{other}, nil, true)
		}},
		{name: "a vote", refused: true, before: func(b logbackends.Backend) error {
			return b.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(0x22))}, ents, nil, true)
		}},
		{name: "a later term", refused: true, before: func(b logbackends.Backend) error {
			return b.Save(&raftpb.HardState{Term: new(uint64(2))}, ents, nil, true)
		}},
		{name: "entries after the bootstrap", refused: true, before: func(b logbackends.Backend) error {
			more := &raftpb.Entry{Term: new(uint64(2)), Index: new(uint64(4)), Type: raftpb.EntryNormal.Enum()}
			return b.Save(&raftpb.HardState{Term: new(uint64(2)), Commit: new(uint64(4))}, append(ents[:3:3], more), nil, true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := memory.Open(logbackends.Env{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := tt.before(b); err != nil {
				t.Fatal(err)
			}
			err = bootstrapLog(b, peers, "dir")
			if tt.refused {
				if !errors.Is(err, ErrMemberMismatch) {
					t.Fatalf("bootstrapLog = %v, want ErrMemberMismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hs, _, err := b.InitialState()
			if err != nil || hs.GetTerm() != 1 || hs.GetVote() != 0 || hs.GetCommit() != 3 {
				t.Fatalf("hard state %v %v, want term 1, no vote, commit 3", hs, err)
			}
			got, err := b.Entries(1, 4, math.MaxUint64)
			if err != nil || len(got) != 3 {
				t.Fatalf("entries %v %v", got, err)
			}
			for i := range got {
				if !sameBootstrapEntry(got[i], ents[i]) {
					t.Fatalf("entry %d is %v, want %v", i+1, got[i], ents[i])
				}
			}
			if last, _ := b.LastIndex(); last != 3 {
				t.Fatalf("last index %d, want 3", last)
			}
		})
	}
}

// firstBootChildEnv tells the test binary, run again as a child process,
// what to do with a member's data dir: "crash|<dir>|<step>" starts the
// member for the first time and kills itself with SIGKILL once the step
// completed; "check|<dir>" starts it and writes through it.
const firstBootChildEnv = "ADRBENCH_FIRSTBOOT_CHILD"

// TestFirstBootCrash kills a member's first boot right after each of its
// steps and starts the member again from what is left, as a restart
// does, with --initial-cluster-state existing: every time it must come up
// and take writes. With FUSE, it also cuts the power after
// the kill (lossyfs, names durable only once their directory is synced),
// so that only what the first boot fsynced is left.
func TestFirstBootCrash(t *testing.T) {
	steps := []bootStep{bootDirs, bootLog, bootBootstrap, bootDatabase, bootIdentity}
	t.Run("crash", func(t *testing.T) {
		for _, step := range steps {
			t.Run("after="+string(step), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data", "m0")
				runChild(t, "crash|"+dir+"|"+string(step), true)
				runChild(t, "check|"+dir, false)
			})
		}
	})
	t.Run("power cut", func(t *testing.T) {
		if err := lossyfs.Available(); err != nil {
			t.Skipf("SKIPPING the power-cut half of the first-boot test: %v", err)
		}
		for _, step := range steps {
			t.Run("after="+string(step), func(t *testing.T) {
				mnt := t.TempDir()
				lfs, err := lossyfs.New(t.TempDir(), lossyfs.Options{Namespace: lossyfs.NamespaceDirSync})
				if err != nil {
					t.Fatal(err)
				}
				if err := lfs.Mount(mnt); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := lfs.Close(); err != nil {
						t.Errorf("lossyfs: %v", err)
					}
				})
				dir := filepath.Join(mnt, "data", "m0")
				runChild(t, "crash|"+dir+"|"+string(step), true)
				if _, err := lfs.PowerCut(); err != nil {
					t.Fatal(err)
				}
				if err := lfs.Unmount(); err != nil {
					t.Fatal(err)
				}
				if err := lfs.Mount(mnt); err != nil {
					t.Fatal(err)
				}
				runChild(t, "check|"+dir, false)
			})
		}
	})
}

// runChild runs this test binary's TestFirstBootChild with what, and
// checks that it was killed (crash) or passed.
func runChild(t *testing.T, what string, crash bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstBootChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), firstBootChildEnv+"="+what)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	switch {
	case crash && !killed:
		t.Fatalf("%s: the first boot did not crash where asked (%v):\n%s", what, err, out)
	case !crash && err != nil:
		t.Fatalf("%s: %v:\n%s", what, err, out)
	case !crash && !strings.Contains(string(out), "--- PASS: TestFirstBootChild"):
		t.Fatalf("%s: the child did not run:\n%s", what, out)
	}
}

// TestFirstBootChild is TestFirstBootCrash's child process.
func TestFirstBootChild(t *testing.T) {
	what := os.Getenv(firstBootChildEnv)
	if what == "" {
		t.Skip("runs only as a child process of TestFirstBootCrash, which crashes it")
	}
	parts := strings.Split(what, "|")
	switch {
	case parts[0] == "crash" && len(parts) == 3:
		step := bootStep(parts[2])
		s, err := startSolo(t, parts[1], "new", withAfterBootStep(func(done bootStep) {
			if done == step {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}))
		if err == nil {
			s.Close()
		}
		t.Fatalf("the first boot went past step %s: %v", step, err)
	case parts[0] == "check" && len(parts) == 2:
		checkSolo(t, parts[1], "existing")
	default:
		t.Fatalf("%s=%q: want crash|dir|step or check|dir", firstBootChildEnv, what)
	}
}

// checkSolo starts the one-member cluster in dataDir and writes through
// it: the member came back and takes writes.
func checkSolo(t *testing.T, dataDir, state string) {
	t.Helper()
	s, err := startSolo(t, dataDir, state)
	if err != nil {
		t.Fatalf("start after the crash: %v", err)
	}
	defer s.Close()
	cli := soloClient(t, s)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eventually(t, time.Minute, func() error {
		_, err := cli.Put(ctx, "k", "v")
		return err
	})
}

// startSolo starts member m0 of a one-member cluster on the batched log
// backend, in dataDir.
func startSolo(t *testing.T, dataDir, state string, opts ...Option) (*Server, error) {
	t.Helper()
	return startSoloWith(t, dataDir, state, func(*Config) {}, opts...)
}

// startSoloWith is startSolo with the configuration changed by mutate.
func startSoloWith(t *testing.T, dataDir, state string, mutate func(*Config), opts ...Option) (*Server, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg := DefaultConfig()
	cfg.Name = "m0"
	cfg.DataDir = dataDir
	cfg.ListenPeerURLs = []string{"http://127.0.0.1:12380"}
	cfg.AdvertisePeerURLs = cfg.ListenPeerURLs
	cfg.InitialCluster = []Member{{Name: "m0", PeerURLs: cfg.ListenPeerURLs}}
	cfg.InitialClusterState = state
	cfg.ListenClientURLs = []string{"http://" + ln.Addr().String()}
	cfg.AdvertiseClientURLs = cfg.ListenClientURLs
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.ElectionTimeout = 200 * time.Millisecond
	mutate(&cfg)
	network := transport.NewNetwork()
	opts = append([]Option{
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithClientListener(ln),
		WithTransport(func(id, _ uint64, r transport.Raft) (transport.Transport, error) { return network.Join(id, r), nil }),
	}, opts...)
	s, err := NewServer(cfg, testRegistry(), opts...)
	if err != nil {
		ln.Close()
	}
	return s, err
}

func soloClient(t *testing.T, s *Server) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.ClientAddr()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// TestLostLogRefused checks the other side of the first-boot rule: a
// member that has its identity took part in its cluster, so an empty log
// means the log was lost, and the member must not start as new.
func TestLostLogRefused(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "m0")
	s, err := startSolo(t, dataDir, "new")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(LogDir(dataDir)); err != nil {
		t.Fatal(err)
	}
	s, err = startSolo(t, dataDir, "existing")
	if err == nil {
		s.Close()
		t.Fatal("a member whose raft log was lost started")
	}
	if !errors.Is(err, ErrMemberMismatch) || !strings.Contains(err.Error(), "raft log is empty") {
		t.Fatalf("start without a log: %v, want ErrMemberMismatch saying the log is empty", err)
	}
}
