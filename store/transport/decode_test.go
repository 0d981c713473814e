package transport

import (
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func mustMarshal(t *testing.T, m *raftpb.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkDecode holds decodeMessage to proto.Unmarshal on b: the same
// message or both an error, and a message that does not share b's bytes.
func checkDecode(t *testing.T, b []byte) *raftpb.Message {
	t.Helper()
	want := &raftpb.Message{}
	werr := proto.Unmarshal(b, want)
	in := append([]byte(nil), b...)
	got, err := decodeMessage(in)
	if (err != nil) != (werr != nil) {
		t.Fatalf("decodeMessage error %v, proto.Unmarshal error %v", err, werr)
	}
	if err != nil {
		return nil
	}
	clear(in)
	if !proto.Equal(got, want) {
		t.Fatalf("decodeMessage = %v\nproto.Unmarshal = %v", got, want)
	}
	return got
}

func TestDecodeMessageMatchesProto(t *testing.T) {
	app := &raftpb.Message{
		Type: raftpb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(7)),
		LogTerm: new(uint64(6)), Index: new(uint64(99)), Commit: new(uint64(98)),
		Entries: []*raftpb.Entry{
			{Term: new(uint64(7)), Index: new(uint64(100)), Data: []byte("put a")},
			{Term: new(uint64(7)), Index: new(uint64(101)), Type: raftpb.EntryConfChangeV2.Enum(), Data: []byte{1, 2, 3}},
			{Term: new(uint64(7)), Index: new(uint64(102))},
			{Term: new(uint64(7)), Index: new(uint64(103)), Data: []byte{}},
		},
	}
	appBytes := mustMarshal(t, app)
	unknownField := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), appBytes...), 99, protowire.VarintType), 5)
	unknownType := protowire.AppendVarint(protowire.AppendTag(nil, msgType, protowire.VarintType), 1000)
	unknownEntryType := protowire.AppendBytes(protowire.AppendTag(nil, msgEntries, protowire.BytesType),
		protowire.AppendVarint(protowire.AppendTag(nil, entType, protowire.VarintType), 77))
	wrongWire := protowire.AppendFixed64(protowire.AppendTag(nil, msgTerm, protowire.Fixed64Type), 3)
	twice := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), appBytes...), msgTerm, protowire.VarintType), 8)
	dataTwice := protowire.AppendBytes(protowire.AppendTag(nil, msgEntries, protowire.BytesType),
		protowire.AppendBytes(protowire.AppendTag(protowire.AppendBytes(protowire.AppendTag(nil, entData, protowire.BytesType), []byte("first, longer")), entData, protowire.BytesType), []byte("second")))

	tests := []struct {
		name string
		in   []byte
		fast bool // decoded without proto.Unmarshal
	}{
		{name: "append", in: appBytes, fast: true},
		{name: "append without entries", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgApp.Enum(), Index: new(uint64(5)), Commit: new(uint64(5))}), fast: true},
		{name: "append response rejected", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgAppResp.Enum(), Reject: new(true), RejectHint: new(uint64(40)), LogTerm: new(uint64(3))}), fast: true},
		{name: "heartbeat with context", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), Commit: new(uint64(9)), Context: []byte("read-1")}), fast: true},
		{name: "empty context", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgHeartbeatResp.Enum(), Context: []byte{}}), fast: true},
		{name: "vote", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgPreVote.Enum(), Vote: new(uint64(3)), Term: new(uint64(4))}), fast: true},
		{name: "zero values present", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgHup.Enum(), To: new(uint64(0)), Reject: new(false)}), fast: true},
		{name: "empty", in: nil, fast: true},
		{name: "field repeated", in: twice, fast: true},
		{name: "entry data repeated", in: dataTwice, fast: true},
		{name: "snapshot", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgSnap.Enum(), Snapshot: &raftpb.Snapshot{Data: []byte("state"), Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(4))}}})},
		{name: "responses", in: mustMarshal(t, &raftpb.Message{Type: raftpb.MsgStorageAppend.Enum(), Responses: []*raftpb.Message{{Type: raftpb.MsgStorageAppendResp.Enum()}}})},
		{name: "unknown field", in: unknownField},
		{name: "unknown message type", in: unknownType},
		{name: "unknown entry type", in: unknownEntryType},
		{name: "wrong wire type", in: wrongWire},
		{name: "truncated", in: appBytes[:len(appBytes)-3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDecode(t, tt.in)
			if _, fast := decodeFast(tt.in); fast != tt.fast {
				t.Fatalf("fast path taken %v, want %v", fast, tt.fast)
			}
		})
	}
}

// TestDecodeMessageEveryPrefix decodes every prefix of an append: each
// cut either fails for both decoders or decodes to the same message.
func TestDecodeMessageEveryPrefix(t *testing.T) {
	b := mustMarshal(t, &raftpb.Message{
		Type: raftpb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(300)),
		Index: new(uint64(1 << 40)), Context: []byte("ctx"),
		Entries: []*raftpb.Entry{
			{Term: new(uint64(300)), Index: new(uint64(1<<40 + 1)), Data: make([]byte, 200)},
			{Term: new(uint64(300)), Index: new(uint64(1<<40 + 2)), Type: raftpb.EntryConfChange.Enum(), Data: []byte("cc")},
		},
	})
	for n := range len(b) + 1 {
		checkDecode(t, b[:n])
	}
}

// TestDecodeMessageRandom decodes random messages of the kinds the peer
// stream carries.
func TestDecodeMessageRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	num := func() *uint64 {
		if rng.IntN(4) == 0 {
			return nil
		}
		return new(rng.Uint64() >> rng.IntN(64))
	}
	types := []raftpb.MessageType{raftpb.MsgApp, raftpb.MsgAppResp, raftpb.MsgHeartbeat, raftpb.MsgHeartbeatResp, raftpb.MsgVote, raftpb.MsgPreVoteResp, raftpb.MsgProp, raftpb.MsgReadIndex, raftpb.MsgTimeoutNow}
	for range 2000 {
		m := &raftpb.Message{
			Type: types[rng.IntN(len(types))].Enum(), To: num(), From: num(), Term: num(), LogTerm: num(),
			Index: num(), Commit: num(), Vote: num(), RejectHint: num(),
		}
		if rng.IntN(3) == 0 {
			m.Reject = new(rng.IntN(2) == 0)
		}
		if rng.IntN(3) == 0 {
			m.Context = make([]byte, rng.IntN(20))
		}
		for range rng.IntN(20) {
			e := &raftpb.Entry{Term: num(), Index: num()}
			if rng.IntN(4) == 0 {
				e.Type = raftpb.EntryType(rng.IntN(3)).Enum()
			}
			if rng.IntN(5) > 0 {
				e.Data = make([]byte, rng.IntN(600))
				for i := range e.Data {
					e.Data[i] = byte(rng.Uint32())
				}
			}
			m.Entries = append(m.Entries, e)
		}
		checkDecode(t, mustMarshal(t, m))
	}
}
