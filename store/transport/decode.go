package transport

import (
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeMessage decodes one raft message from b, which the caller may
// reuse afterwards.
//
// proto.Unmarshal allocates five times per entry of an append (the entry,
// its term, index and type, each a pointer in raft's v3.7 types, and a
// copy of its data), and a follower decodes an append for every batch of
// client writes. Here the entries of one message share their allocations:
// one array of entries, one of pointers to them, one of integers for
// their terms and indexes, one of entry types, and one buffer for all
// their data; a message costs a handful of
// allocations whatever its number of entries. An entry therefore keeps
// the others of its message reachable as long as it lives; raft and the
// log backends release the entries of one append together (they are
// consecutive in the log), so this holds no memory that one allocation
// per entry would not.
//
// The fast path takes every field of the messages the peer stream
// carries. A message it does not know field for field (a snapshot, a
// response list, an unknown field or enum value, a field of an unexpected
// wire type) is handed to proto.Unmarshal whole, so that what is decoded,
// and every error, is exactly proto.Unmarshal's.
func decodeMessage(b []byte) (*raftpb.Message, error) {
	m, ok := decodeFast(b)
	if ok {
		return m, nil
	}
	m = &raftpb.Message{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Field numbers of raftpb.Message and raftpb.Entry (raft.proto).
const (
	msgType       = 1
	msgTo         = 2
	msgFrom       = 3
	msgTerm       = 4
	msgLogTerm    = 5
	msgIndex      = 6
	msgEntries    = 7
	msgCommit     = 8
	msgReject     = 10
	msgRejectHint = 11
	msgContext    = 12
	msgVote       = 13

	entType  = 1
	entTerm  = 2
	entIndex = 3
	entData  = 4
)

// msgFields holds a decoded message's scalar fields, which raft's types
// point to, in one allocation.
type msgFields struct {
	// to, from, term, logTerm, index, commit, rejectHint, vote
	nums   [8]uint64
	typ    raftpb.MessageType
	reject bool
}

// decodeFast decodes b if every field is one it knows; ok is false
// otherwise, and then nothing it allocated is kept.
func decodeFast(b []byte) (m *raftpb.Message, ok bool) {
	// First pass: check the message's fields and size the entries.
	var nEnts, dataLen int
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return nil, false
		}
		rest = rest[n:]
		switch {
		case num == msgEntries && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return nil, false
			}
			dl, ok := checkEntry(v)
			if !ok {
				return nil, false
			}
			nEnts++
			dataLen += dl
			rest = rest[n:]
		case num == msgContext && typ == protowire.BytesType:
			_, n := protowire.ConsumeBytes(rest)
			if n < 0 {
				return nil, false
			}
			rest = rest[n:]
		case isMsgVarint(num) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(rest)
			if n < 0 || (num == msgType && !knownMessageType(v)) {
				return nil, false
			}
			rest = rest[n:]
		default:
			return nil, false
		}
	}

	// Second pass: fill the message from slabs sized by the first.
	m = &raftpb.Message{}
	f := &msgFields{}
	var ents []raftpb.Entry
	var nums []uint64
	var types []raftpb.EntryType
	var data []byte
	if nEnts > 0 {
		ents = make([]raftpb.Entry, nEnts)
		nums = make([]uint64, 2*nEnts)
		types = make([]raftpb.EntryType, nEnts)
		m.Entries = make([]*raftpb.Entry, 0, nEnts)
		data = make([]byte, 0, dataLen)
	}
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		rest = rest[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(rest)
			rest = rest[n:]
			if num == msgContext {
				m.Context = append(make([]byte, 0, len(v)), v...)
				continue
			}
			i := len(m.Entries)
			e := &ents[i]
			data = fillEntry(e, v, nums[2*i:2*i+2], &types[i], data)
			m.Entries = append(m.Entries, e)
			continue
		}
		v, n := protowire.ConsumeVarint(rest)
		rest = rest[n:]
		switch num {
		case msgType:
			f.typ = raftpb.MessageType(v)
			m.Type = &f.typ
		case msgReject:
			f.reject = protowire.DecodeBool(v)
			m.Reject = &f.reject
		case msgTo:
			m.To = setNum(f.nums[:], 0, v)
		case msgFrom:
			m.From = setNum(f.nums[:], 1, v)
		case msgTerm:
			m.Term = setNum(f.nums[:], 2, v)
		case msgLogTerm:
			m.LogTerm = setNum(f.nums[:], 3, v)
		case msgIndex:
			m.Index = setNum(f.nums[:], 4, v)
		case msgCommit:
			m.Commit = setNum(f.nums[:], 5, v)
		case msgRejectHint:
			m.RejectHint = setNum(f.nums[:], 6, v)
		case msgVote:
			m.Vote = setNum(f.nums[:], 7, v)
		}
	}
	return m, true
}

func setNum(nums []uint64, i int, v uint64) *uint64 {
	nums[i] = v
	return &nums[i]
}

func isMsgVarint(num protowire.Number) bool {
	switch num {
	case msgType, msgTo, msgFrom, msgTerm, msgLogTerm, msgIndex, msgCommit, msgReject, msgRejectHint, msgVote:
		return true
	}
	return false
}

// knownMessageType reports whether v is a value of raft's closed
// MessageType enum; proto.Unmarshal keeps any other as an unknown field.
func knownMessageType(v uint64) bool {
	_, ok := raftpb.MessageType_name[int32(v)]
	return ok && v <= 1<<31-1
}

func knownEntryType(v uint64) bool {
	_, ok := raftpb.EntryType_name[int32(v)]
	return ok && v <= 1<<31-1
}

// checkEntry reports whether b is an entry of known fields only, and the
// length of its data (of its last data field: a repeated scalar field
// takes its last value).
func checkEntry(b []byte) (dataLen int, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		switch {
		case num == entData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, false
			}
			dataLen = len(v)
			b = b[n:]
		case (num == entTerm || num == entIndex || num == entType) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || (num == entType && !knownEntryType(v)) {
				return 0, false
			}
			b = b[n:]
		default:
			return 0, false
		}
	}
	return dataLen, true
}

// fillEntry decodes the entry b, which checkEntry accepted, into e, its
// term and index into nums[0] and nums[1] and its type into *et; its data
// is appended to data, which has the room, and e.Data is that part of it.
func fillEntry(e *raftpb.Entry, b []byte, nums []uint64, et *raftpb.EntryType, data []byte) []byte {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			b = b[n:]
			start := len(data)
			data = append(data, v...)
			e.Data = data[start:len(data):len(data)]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		b = b[n:]
		switch num {
		case entType:
			*et = raftpb.EntryType(v)
			e.Type = et
		case entTerm:
			e.Term = setNum(nums, 0, v)
		case entIndex:
			e.Index = setNum(nums, 1, v)
		}
	}
	return data
}
