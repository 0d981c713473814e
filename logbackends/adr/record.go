package adrlog

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A ring record holds one Save without a snapshot:
//
//	hsLen  u32   length of the HardState encoding (0: none)
//	hs     hsLen protobuf raftpb.HardState
//	count  u32   number of entries
//	then count times:
//	len    u32   length of the entry encoding
//	entry  len   protobuf raftpb.Entry
//
// little-endian. The ring's record checksum covers all of it.

// encodeSave appends the record of (hs, ents) to buf.
func encodeSave(buf []byte, mo proto.MarshalOptions, hs *raftpb.HardState, ents []*raftpb.Entry) ([]byte, error) {
	var err error
	if buf, err = appendMsg(buf, mo, hs); err != nil {
		return buf, fmt.Errorf("encode hard state: %w", err)
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(ents)))
	for _, e := range ents {
		if buf, err = appendMsg(buf, mo, e); err != nil {
			return buf, fmt.Errorf("encode entry %d: %w", e.GetIndex(), err)
		}
	}
	return buf, nil
}

// appendMsg appends a length-prefixed message, encoding it straight into
// buf and filling in the length afterwards. A nil message is length 0.
func appendMsg(buf []byte, mo proto.MarshalOptions, m proto.Message) ([]byte, error) {
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	if m == nil {
		return buf, nil
	}
	out, err := mo.MarshalAppend(buf, m)
	if err != nil {
		return buf[:at], err
	}
	binary.LittleEndian.PutUint32(out[at:], uint32(len(out)-at-4))
	return out, nil
}

// savedRecord is a decoded ring record.
type savedRecord struct {
	hs   *raftpb.HardState // nil: the Save had none
	ents []*raftpb.Entry
}

// decodeSave decodes a record. p is not retained.
func decodeSave(p []byte) (savedRecord, error) {
	var r savedRecord
	next := func() ([]byte, error) {
		if len(p) < 4 {
			return nil, fmt.Errorf("truncated length")
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(len(p)-4) < uint64(n) {
			return nil, fmt.Errorf("length %d past the record's end", n)
		}
		b := p[4 : 4+n]
		p = p[4+n:]
		return b, nil
	}
	b, err := next()
	if err != nil {
		return r, fmt.Errorf("hard state: %w", err)
	}
	if len(b) > 0 {
		r.hs = &raftpb.HardState{}
		if err := proto.Unmarshal(b, r.hs); err != nil {
			return r, fmt.Errorf("hard state: %w", err)
		}
	}
	if len(p) < 4 {
		return r, fmt.Errorf("entry count: truncated")
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	r.ents = make([]*raftpb.Entry, 0, min(count, uint32(len(p)/4)))
	for k := uint32(0); k < count; k++ {
		b, err := next()
		if err != nil {
			return r, fmt.Errorf("entry %d of %d: %w", k, count, err)
		}
		e := &raftpb.Entry{}
		if err := proto.Unmarshal(b, e); err != nil {
			return r, fmt.Errorf("entry %d of %d: %w", k, count, err)
		}
		r.ents = append(r.ents, e)
	}
	if len(p) != 0 {
		return r, fmt.Errorf("%d bytes after the last entry", len(p))
	}
	return r, nil
}
