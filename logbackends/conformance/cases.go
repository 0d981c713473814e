package conformance

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/logbackends"
)

func testAppendRead(t *testing.T, h *harness) {
	b := h.open()
	defer b.Close()
	if hs, cs, err := b.InitialState(); err != nil || !raft.IsEmptyHardState(hs) || cs == nil {
		t.Fatalf("fresh InitialState = %v, %v, %v", hs, cs, err)
	}
	checkLog(t, b, 1, nil)
	if term, err := b.Term(0); err != nil || term != 0 {
		t.Fatalf("Term(0) = %d, %v", term, err)
	}
	save(t, b, hardState(1, 3), ents(1, 10, 1))
	checkLog(t, b, 1, repeat(1, 10))
	if hs, _, _ := b.InitialState(); !proto.Equal(hs, hardState(1, 3)) {
		t.Fatalf("InitialState hard state = %v", hs)
	}
	got, err := b.Entries(2, 11, 1)
	if err != nil || len(got) != 1 || got[0].GetIndex() != 2 {
		t.Fatalf("Entries with maxSize 1 = %v, %v; want just entry 2", got, err)
	}
	_, err = b.Entries(0, 5, ^uint64(0))
	isErr(t, "Entries(0, 5)", err, raft.ErrCompacted)
	if _, err := b.Term(11); err == nil {
		t.Fatal("Term past the end succeeded")
	}
	// An empty Save and a HardState-only Save without sync are legal.
	must(t, b.Save(nil, nil, nil, false))
	must(t, b.Save(hardState(1, 10), nil, nil, false))
	st := b.Stats()
	if st.Backend != h.f.Name || st.Saves != 3 || st.EntriesSaved != 10 {
		t.Fatalf("Stats = %+v", st)
	}
	if h.f.Durability == CrashSafe && st.Syncs == 0 {
		t.Fatalf("a crash-safe backend made no sync: %+v", st)
	}
	if st.SyncLatency.Count != 0 && st.SyncLatency.Count != st.Syncs {
		t.Fatalf("%d syncs but %d latency samples", st.Syncs, st.SyncLatency.Count)
	}
}

func testGap(t *testing.T, h *harness) {
	b := h.open()
	defer b.Close()
	save(t, b, nil, ents(1, 5, 1))
	isErr(t, "Save after a gap", b.Save(nil, ents(7, 8, 1), nil, true), logbackends.ErrLogGap)
	checkLog(t, b, 1, repeat(1, 5))
}

func testOverwrite(t *testing.T, h *harness) {
	b := h.open()
	save(t, b, hardState(1, 2), ents(1, 10, 1))
	save(t, b, hardState(2, 5), ents(6, 8, 2))
	want := append(repeat(1, 5), repeat(2, 3)...)
	checkLog(t, b, 1, want)
	save(t, b, nil, ents(9, 9, 2))
	want = append(want, 2)
	checkLog(t, b, 1, want)
	if h.f.Durability >= CleanClose {
		b = h.reopen(b)
		checkLog(t, b, 1, want)
		if hs, _, _ := b.InitialState(); !proto.Equal(hs, hardState(2, 5)) {
			t.Fatalf("hard state after reopen = %v", hs)
		}
	}
	must(t, b.Close())
}

func testSnapshotCompaction(t *testing.T, h *harness) {
	b := h.open()
	for i := uint64(1); i <= 60; i += 10 {
		save(t, b, hardState(1, i+9), ents(i, i+9, 1))
	}
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	data := bytes.Repeat([]byte("snapshot data "), 700) // larger than a segment
	snap, err := b.CreateSnapshot(40, cs, data)
	must(t, err)
	if snap.GetMetadata().GetIndex() != 40 || snap.GetMetadata().GetTerm() != 1 {
		t.Fatalf("CreateSnapshot returned %v", snap.GetMetadata())
	}
	_, err = b.CreateSnapshot(40, cs, nil)
	isErr(t, "CreateSnapshot at the same index", err, raft.ErrSnapOutOfDate)
	_, err = b.CreateSnapshot(30, cs, nil)
	isErr(t, "CreateSnapshot below", err, raft.ErrSnapOutOfDate)
	_, err = b.CreateSnapshot(61, cs, nil)
	isErr(t, "CreateSnapshot past the end", err, logbackends.ErrOutOfBounds)
	isErr(t, "Compact past the snapshot", b.Compact(45), logbackends.ErrOutOfBounds)
	must(t, b.Compact(35))
	isErr(t, "Compact again", b.Compact(35), raft.ErrCompacted)
	isErr(t, "Compact below", b.Compact(20), raft.ErrCompacted)
	_, err = b.Entries(35, 40, ^uint64(0))
	isErr(t, "Entries at the compaction point", err, raft.ErrCompacted)
	if term, err := b.Term(35); err != nil || term != 1 {
		t.Fatalf("Term(35) = %d, %v; the compaction point keeps its term", term, err)
	}
	_, err = b.Term(34)
	isErr(t, "Term below the compaction point", err, raft.ErrCompacted)

	check := func(b logbackends.Backend) {
		t.Helper()
		checkLog(t, b, 36, repeat(1, 25))
		s, err := b.Snapshot()
		must(t, err)
		if s.GetMetadata().GetIndex() != 40 || !bytes.Equal(s.GetData(), data) || !confEqual(s.GetMetadata().GetConfState(), cs) {
			t.Fatalf("Snapshot = index %d, %d bytes, %v", s.GetMetadata().GetIndex(), len(s.GetData()), s.GetMetadata().GetConfState())
		}
		if _, got, _ := b.InitialState(); !confEqual(got, cs) {
			t.Fatalf("InitialState conf state = %v, want %v", got, cs)
		}
	}
	check(b)
	// A second round moves everything forward; old segments can go.
	for i := uint64(61); i <= 200; i += 10 {
		save(t, b, hardState(1, i+9), ents(i, i+9, 1))
	}
	_, err = b.CreateSnapshot(150, cs, nil)
	must(t, err)
	must(t, b.Compact(150))
	checkLog(t, b, 151, repeat(1, 50))
	if h.f.Durability >= CleanClose {
		b = h.reopen(b)
		checkLog(t, b, 151, repeat(1, 50))
		if s, _ := b.Snapshot(); s.GetMetadata().GetIndex() != 150 || len(s.GetData()) != 0 {
			t.Fatalf("snapshot after reopen: %v", s.GetMetadata())
		}
		if hs, _, _ := b.InitialState(); hs.GetCommit() != 200 {
			t.Fatalf("hard state after reopen = %v", hs)
		}
	}
	must(t, b.Close())
}

func testInstallSnapshot(t *testing.T, h *harness) {
	b := h.open()
	save(t, b, hardState(1, 5), ents(1, 10, 1))
	cs := &raftpb.ConfState{Voters: []uint64{1, 2}}
	mk := func(i, term uint64) *raftpb.Snapshot {
		return &raftpb.Snapshot{Data: []byte("from leader"), Metadata: &raftpb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: cs}}
	}
	must(t, b.Save(hardState(3, 30), nil, mk(30, 3), true))
	checkLog(t, b, 31, nil)
	if term, _ := b.Term(30); term != 3 {
		t.Fatalf("Term(30) = %d after installing a snapshot at term 3", term)
	}
	isErr(t, "Save of an older snapshot", b.Save(nil, nil, mk(20, 3), true), raft.ErrSnapOutOfDate)
	save(t, b, hardState(3, 31), ents(31, 33, 3))
	checkLog(t, b, 31, repeat(3, 3))
	if h.f.Durability >= CleanClose {
		b = h.reopen(b)
		checkLog(t, b, 31, repeat(3, 3))
		s, _ := b.Snapshot()
		if s.GetMetadata().GetIndex() != 30 || string(s.GetData()) != "from leader" {
			t.Fatalf("snapshot after reopen: %v", s)
		}
		if _, got, _ := b.InitialState(); !confEqual(got, cs) {
			t.Fatalf("conf state after reopen = %v", got)
		}
	}
	must(t, b.Close())
}

func testClosed(t *testing.T, h *harness) {
	b := h.open()
	save(t, b, nil, ents(1, 2, 1))
	must(t, b.Close())
	isErr(t, "Save after Close", b.Save(nil, ents(3, 3, 1), nil, true), logbackends.ErrClosed)
	_, err := b.CreateSnapshot(1, nil, nil)
	isErr(t, "CreateSnapshot after Close", err, logbackends.ErrClosed)
	isErr(t, "Compact after Close", b.Compact(1), logbackends.ErrClosed)
}

func testConcurrentReaders(t *testing.T, h *harness) {
	b := h.open()
	defer b.Close()
	save(t, b, nil, ents(1, 1, 1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				fi, _ := b.FirstIndex()
				li, _ := b.LastIndex()
				if li >= fi {
					if _, err := b.Entries(fi, li+1, 1<<20); err != nil && !errors.Is(err, raft.ErrCompacted) {
						t.Errorf("Entries(%d, %d): %v", fi, li+1, err)
						return
					}
				}
				b.Term(li)
				b.InitialState()
				b.Snapshot()
				b.Stats()
			}
		}()
	}
	for i := uint64(2); i <= 300; i += 3 {
		save(t, b, hardState(1, i), ents(i, i+2, 1))
		if i%60 == 2 {
			_, err := b.CreateSnapshot(i, &raftpb.ConfState{Voters: []uint64{1}}, nil)
			must(t, err)
			must(t, b.Compact(i-1))
		}
	}
	close(stop)
	wg.Wait()
}

func testReopen(t *testing.T, h *harness) {
	b := h.open()
	var terms []uint64
	for i := uint64(1); i <= 150; i += 5 {
		term := 1 + i/50
		save(t, b, hardState(term, i), ents(i, i+4, term))
		terms = append(terms, repeat(term, 5)...)
	}
	// The last HardState needs no sync (only the commit index moved), but a
	// clean close keeps it.
	must(t, b.Save(hardState(3, 150), nil, nil, false))
	b = h.reopen(b)
	checkLog(t, b, 1, terms)
	if hs, _, _ := b.InitialState(); !proto.Equal(hs, hardState(3, 150)) {
		t.Fatalf("hard state after reopen = %v", hs)
	}
	// And it keeps working.
	save(t, b, nil, ents(151, 151, 3))
	b = h.reopen(b)
	checkLog(t, b, 1, append(terms, 3))
	must(t, b.Close())
}

// confEqual compares membership, not encodings: raft may set optional
// fields (auto_leave false) that the caller left unset.
func confEqual(a, b *raftpb.ConfState) bool {
	return slices.Equal(a.GetVoters(), b.GetVoters()) && slices.Equal(a.GetLearners(), b.GetLearners()) &&
		slices.Equal(a.GetVotersOutgoing(), b.GetVotersOutgoing()) &&
		slices.Equal(a.GetLearnersNext(), b.GetLearnersNext()) && a.GetAutoLeave() == b.GetAutoLeave()
}
