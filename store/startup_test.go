package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDatabaseAgainstLog starts a member whose database was lost or
// rolled back: below the raft log's snapshot it must refuse, naming the
// database and the indexes; with a log that holds every entry it rebuilds
// the database from the log.
func TestDatabaseAgainstLog(t *testing.T) {
	compacting := func(c *Config) { c.SnapshotCount, c.SnapshotCatchUpEntries = 20, 5 }
	tests := []struct {
		name   string
		mutate func(*Config)
		// damage runs on the stopped member after the writes; before, if
		// set, after the first few.
		before func(t *testing.T, db string)
		damage func(t *testing.T, db string)
		// want is the error the restart must return, nil when it must
		// start with every write.
		want    error
		mention []string
	}{
		{
			name:    "database removed, log compacted",
			mutate:  compacting,
			damage:  func(t *testing.T, db string) { mustRemove(t, db) },
			want:    ErrDatabaseBehind,
			mention: []string{"does not exist", "snapshot at index"},
		},
		{
			name:    "database rolled back below the snapshot",
			mutate:  compacting,
			before:  func(t *testing.T, db string) { copyFile(t, db, db+".old") },
			damage:  func(t *testing.T, db string) { copyFile(t, db+".old", db) },
			want:    ErrDatabaseBehind,
			mention: []string{"is at raft index", "snapshot at index"},
		},
		{
			name:   "database removed, log whole",
			mutate: func(*Config) {},
			damage: func(t *testing.T, db string) { mustRemove(t, db) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "m0")
			db := filepath.Join(dataDir, "member", "snap", "db")
			state := "new"
			var rev int64
			write := func(from, to int) {
				s, err := startSoloWith(t, dataDir, state, tt.mutate)
				if err != nil {
					t.Fatal(err)
				}
				state = "existing"
				cli := soloClient(t, s)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for i := from; i < to; i++ {
					var resp *clientv3.PutResponse
					eventually(t, 10*time.Second, func() (err error) {
						resp, err = cli.Put(ctx, fmt.Sprintf("k%03d", i), "v")
						return err
					})
					rev = resp.Header.Revision
				}
				cli.Close()
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			write(0, 5)
			if tt.before != nil {
				tt.before(t, db)
			}
			write(5, 60)
			tt.damage(t, db)

			s, err := startSoloWith(t, dataDir, "existing", tt.mutate)
			if tt.want != nil {
				if err == nil {
					s.Close()
					t.Fatal("the member started")
				}
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), db) {
					t.Fatalf("start: %v, want %v naming %s", err, tt.want, db)
				}
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Fatalf("start: %v, want it to say %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer s.Close()
			cli := soloClient(t, s)
			defer cli.Close()
			eventually(t, 10*time.Second, func() error {
				resp, err := cli.Get(context.Background(), "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
				if err != nil {
					return err
				}
				if resp.Count != 60 || resp.Header.Revision != rev {
					return fmt.Errorf("%d keys at revision %d, want 60 at %d", resp.Count, resp.Header.Revision, rev)
				}
				return nil
			})
		})
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
