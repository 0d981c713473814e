package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// writeAndCompact puts n keys through member 0, compacts at the middle
// revision, and waits until every running member applied all of it. It
// returns the last revision.
func writeAndCompact(t *testing.T, c *testCluster, n int) int64 {
	t.Helper()
	ctx := ctxT(t)
	var rev int64
	for i := 0; i < n; i++ {
		resp, err := c.clients[c.leader()].Put(ctx, fmt.Sprintf("h/%03d", i%7), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	if _, err := c.clients[c.leader()].Compact(ctx, rev/2); err != nil {
		t.Fatal(err)
	}
	for i, s := range c.members {
		if c.clients[i] == nil {
			continue
		}
		eventually(t, 10*time.Second, func() error {
			if got := s.state.kv.CompactRev(); got != rev/2 {
				return fmt.Errorf("%s compacted at %d", c.cfgs[i].Name, got)
			}
			return nil
		})
	}
	return rev
}

// TestHashesAgreeAcrossMembers checks that every member answers HashKV
// and Hash as etcd's do: equal on members that applied the same entries.
func TestHashesAgreeAcrossMembers(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	ctx := ctxT(t)
	rev := writeAndCompact(t, c, 40)
	var first *clientv3.HashKVResponse
	var firstHash uint32
	for i, cli := range c.clients {
		resp, err := cli.HashKV(ctx, c.members[i].ClientAddr(), rev)
		if err != nil {
			t.Fatal(err)
		}
		h, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Hash(ctx, &pb.HashRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.MemberId != c.members[i].ID() || resp.CompactRevision != rev/2 || resp.HashRevision != rev {
			t.Fatalf("%s answered %+v, want its id, compaction revision %d, hash revision %d", c.cfgs[i].Name, resp, rev/2, rev)
		}
		if first == nil {
			first, firstHash = resp, h.Hash
			continue
		}
		if resp.Hash != first.Hash || h.Hash != firstHash {
			t.Fatalf("%s: hashkv %d, hash %d; member 0: %d, %d", c.cfgs[i].Name, resp.Hash, h.Hash, first.Hash, firstHash)
		}
	}
	if _, err := c.clients[0].HashKV(ctx, c.members[0].ClientAddr(), rev/2); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("hashkv at the compaction revision: %v, want %v", err, rpctypes.ErrCompacted)
	}
}

// TestMaintenanceSnapshotHasSHA256 checks that a Maintenance snapshot ends
// with the sha256 of the database before it, as etcd's does.
func TestMaintenanceSnapshotHasSHA256(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	ctx := ctxT(t)
	if _, err := c.clients[0].Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	rc, err := c.clients[0].Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(data)%dbHashAlign != sha256.Size {
		t.Fatalf("snapshot of %d bytes has no sha256 after a whole number of pages", len(data))
	}
	db, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(db); !bytes.Equal(sum, want[:]) {
		t.Fatalf("trailer %x, want sha256 %x", sum, want)
	}
}

func TestSplitDBHash(t *testing.T) {
	db := bytes.Repeat([]byte{7}, 2*dbHashAlign)
	good := appendDBHash(append([]byte(nil), db...))
	flipped := append([]byte(nil), good...)
	flipped[10] ^= 1
	tests := []struct {
		name string
		data []byte
		want []byte
		err  error
	}{
		{name: "with its hash", data: good, want: db},
		{name: "without a hash", data: db, want: db},
		{name: "a flipped bit", data: flipped, err: ErrSnapshotHash},
		{name: "a wrong hash", data: append(append([]byte(nil), db...), make([]byte, sha256.Size)...), err: ErrSnapshotHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitDBHash(tt.data)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("splitDBHash: %v, want %v", err, tt.err)
			}
			if tt.err == nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("splitDBHash returned %d bytes, want the %d of the database", len(got), len(tt.want))
			}
		})
	}
}

// alterValue changes the value of one key in a stopped member's database,
// as silent corruption of its disk would.
func alterValue(t *testing.T, dataDir, key string) {
	t.Helper()
	db, err := bbolt.Open(dataDir+"/member/snap/db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	altered := false
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var kv mvccpb.KeyValue
			if err := proto.Unmarshal(v, &kv); err != nil {
				return err
			}
			if string(kv.Key) != key || len(kv.Value) == 0 {
				continue
			}
			kv.Value[0]++
			nv, err := proto.Marshal(&kv)
			if err != nil {
				return err
			}
			altered = true
			return b.Put(append([]byte(nil), k...), nv)
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil || !altered {
		t.Fatalf("alter %q: %v (found: %v)", key, err, altered)
	}
}

// TestInitialCorruptCheck restarts a member whose database was altered
// while it was down with the initial corruption check on: it must refuse
// to start, naming the peers that disagree; unaltered, it starts.
func TestInitialCorruptCheck(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	writeAndCompact(t, c, 30)
	const victim = 2
	// Every member must have published its client URLs, which the check
	// reaches the peers on.
	eventually(t, 10*time.Second, func() error {
		for _, m := range c.members[victim].state.members.proto() {
			if len(m.ClientURLs) == 0 {
				return fmt.Errorf("%x has not published its client URLs", m.ID)
			}
		}
		return nil
	})
	c.stop(victim)
	c.clients[victim] = nil
	c.cfgs[victim].InitialCorruptCheck = true
	if err := c.tryStart(victim); err != nil {
		t.Fatalf("an unaltered member failed the initial check: %v", err)
	}
	c.stop(victim)
	c.clients[victim] = nil

	alterValue(t, c.cfgs[victim].DataDir, "h/003")
	err := c.tryStart(victim)
	if !errors.Is(err, ErrCorruptData) {
		t.Fatalf("start with an altered database: %v, want %v", err, ErrCorruptData)
	}
	for _, i := range []int{0, 1} {
		if id := fmt.Sprintf("%x", c.members[i].ID()); !strings.Contains(err.Error(), id) {
			t.Fatalf("%v does not name peer %s", err, id)
		}
	}
}

// TestPeriodicCorruptCheck lets the leader check the members on an
// interval: a member whose database was altered while it was down gets a
// CORRUPT alarm raised, which stops every write in the cluster.
func TestPeriodicCorruptCheck(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{})
	for i := range c.cfgs {
		c.cfgs[i].CorruptCheckTime = 100 * time.Millisecond
	}
	writeAndCompact(t, c, 30)
	l := c.leader()
	victim := (l + 1) % 3
	c.stop(victim)
	c.clients[victim] = nil
	alterValue(t, c.cfgs[victim].DataDir, "h/003")
	for i := range c.members {
		// Restart every member, so that they all run the check.
		if i != victim {
			c.stop(i)
			c.clients[i] = nil
		}
	}
	for i := range c.members {
		c.start(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var alarms []*pb.AlarmMember
	eventually(t, time.Minute, func() error {
		resp, err := c.clients[0].AlarmList(ctx)
		if err != nil {
			return err
		}
		alarms = resp.Alarms
		if len(alarms) == 0 {
			return errors.New("no alarm raised")
		}
		return nil
	})
	// The alarm names the member the leader found out of line: the
	// altered one, or, if the altered one leads, the first peer it found
	// disagreeing, as etcd 3.4's check does.
	if len(alarms) != 1 || alarms[0].Alarm != pb.AlarmType_CORRUPT {
		t.Fatalf("alarms %v, want one CORRUPT", alarms)
	}
	for i, cli := range c.clients {
		if _, err := cli.Put(ctx, "after", "1"); !errors.Is(err, rpctypes.ErrCorrupt) {
			t.Fatalf("put on %s under a CORRUPT alarm: %v, want %v", c.cfgs[i].Name, err, rpctypes.ErrCorrupt)
		}
		if _, err := cli.Get(ctx, "h/", clientv3.WithPrefix()); err != nil {
			t.Fatalf("read on %s under a CORRUPT alarm: %v", c.cfgs[i].Name, err)
		}
	}
}

// TestAlarmsThroughTheAPI raises a CORRUPT alarm with the Maintenance
// service, checks that writes are refused and the alarm is listed and
// makes /health fail, then disarms it as etcdctl alarm disarm does.
func TestAlarmsThroughTheAPI(t *testing.T) {
	c := newTestCluster(t, 1, clusterOpts{})
	ctx := ctxT(t)
	cli := c.clients[0]
	id := c.members[0].ID()
	if _, err := pb.NewMaintenanceClient(cli.ActiveConnection()).Alarm(ctx, &pb.AlarmRequest{
		Action: pb.AlarmRequest_ACTIVATE, MemberID: id, Alarm: pb.AlarmType_CORRUPT,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "k", "v"); !errors.Is(err, rpctypes.ErrCorrupt) {
		t.Fatalf("put under a CORRUPT alarm: %v, want %v", err, rpctypes.ErrCorrupt)
	}
	list, err := cli.AlarmList(ctx)
	if err != nil || len(list.Alarms) != 1 || list.Alarms[0].MemberID != id || list.Alarms[0].Alarm != pb.AlarmType_CORRUPT {
		t.Fatalf("alarm list: %v %v", list, err)
	}
	resp, err := http.Get("http://" + c.members[0].ClientAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "CORRUPT") {
		t.Fatalf("/health under a CORRUPT alarm: %d %s", resp.StatusCode, body)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil {
		t.Fatal(err)
	}
	if list, err := cli.AlarmList(ctx); err != nil || len(list.Alarms) != 0 {
		t.Fatalf("alarm list after disarm: %v %v", list, err)
	}
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put after disarm: %v", err)
	}
}
