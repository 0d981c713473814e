package mvcc

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestBackendFailure fails a commit of the batch in each of the places a
// commit happens and checks that the store fails for good: nothing is
// applied, read or told to a watcher after it, and the file keeps the
// last good commit.
func TestBackendFailure(t *testing.T) {
	errDisk := errors.New("disk gone")
	tests := []struct {
		name string
		// cfg makes the commit that fails the one the test names.
		cfg func(*Config)
		// fail makes the armed commit happen and returns how many applies
		// succeeded on the way and the error the caller saw, if any.
		fail func(h *harness) (int, error)
	}{
		{
			name: "explicit commit",
			cfg:  func(c *Config) { c.BatchInterval = time.Hour },
			fail: func(h *harness) (int, error) { return 0, h.s.Commit() },
		},
		{
			name: "batch limit reached inside an apply",
			cfg:  func(c *Config) { c.BatchInterval, c.BatchLimit = time.Hour, 3 },
			fail: func(h *harness) (int, error) {
				for i := 0; i < 3; i++ {
					if _, err := h.apply(putReq("during", "x")); err != nil {
						return i, err
					}
				}
				return 3, nil
			},
		},
		{
			name: "interval commit",
			cfg:  func(c *Config) { c.BatchInterval = time.Millisecond },
			fail: func(h *harness) (int, error) {
				select {
				case <-h.s.Failed():
				case <-time.After(10 * time.Second):
					h.t.Fatal("the interval commit did not fail the store")
				}
				return 0, nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var armed atomic.Bool
			h := newHarness(t, func(c *Config) {
				tt.cfg(c)
				c.BeforeCommit = func() error {
					if armed.Load() {
						return errDisk
					}
					return nil
				}
			})
			h.put("kept", "1")
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
			committed := h.s.ConsistentIndex()
			h.put("lost", "2")
			h.mu.Lock()
			told := len(h.notified)
			h.mu.Unlock()

			armed.Store(true)
			applied, err := tt.fail(h)
			if err != nil && !errors.Is(err, errDisk) {
				t.Fatalf("the failing commit returned %v, want %v", err, errDisk)
			}
			select {
			case <-h.s.Failed():
			default:
				t.Fatal("Failed() is not closed after a failed commit")
			}
			if err := h.s.Err(); !errors.Is(err, ErrBackend) || !errors.Is(err, errDisk) {
				t.Fatalf("Err() = %v, want ErrBackend wrapping %v", err, errDisk)
			}
			armed.Store(false) // the disk is back; the store stays failed

			_, err = h.apply(putReq("after", "3"))
			wantErr(t, err, ErrBackend)
			wantErr(t, h.s.Skip(h.idx+1), ErrBackend)
			_, err = h.s.Range(&pb.RangeRequest{Key: []byte("kept")})
			wantErr(t, err, ErrBackend)
			_, err = h.s.KVAt([]byte("kept"), h.s.Rev())
			wantErr(t, err, ErrBackend)
			_, err = h.s.Events([]byte{0}, []byte{0}, 1, h.s.Rev(), 0)
			wantErr(t, err, ErrBackend)
			_, _, err = h.s.Hash()
			wantErr(t, err, ErrBackend)
			_, err = h.s.HashKV(0)
			wantErr(t, err, ErrBackend)
			wantErr(t, h.s.Commit(), ErrBackend)
			var snap bytes.Buffer
			_, err = h.s.Snapshot(&snap)
			wantErr(t, err, ErrBackend)
			wantErr(t, h.s.Restore(bytes.NewReader(nil), 0), ErrBackend)
			h.mu.Lock()
			if extra := len(h.notified) - told - applied; extra != 0 {
				t.Errorf("watchers were told of %d revisions after the failure", extra)
			}
			h.mu.Unlock()

			wantErr(t, h.s.Close(), ErrBackend)
			h.open()
			if got := h.s.ConsistentIndex(); got != committed {
				t.Fatalf("reopened at raft index %d, want the last good commit's %d", got, committed)
			}
			if got := keysOf(h.rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}).Kvs); !equalStrings(got, []string{"kept"}) {
				t.Fatalf("reopened store holds %v, want only the committed key", got)
			}
		})
	}
}
