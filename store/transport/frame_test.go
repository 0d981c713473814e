package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func TestFrameRoundTrip(t *testing.T) {
	var stream bytes.Buffer
	var buf []byte
	for i := range uint64(10) {
		m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Index: new(i),
			Entries: []*raftpb.Entry{{Index: new(i + 1), Data: bytes.Repeat([]byte{byte(i)}, int(i)*100)}}}
		var err error
		if buf, err = appendFrame(buf, m, 1<<20); err != nil {
			t.Fatal(err)
		}
		stream.Write(buf)
	}
	fr := frameReader{r: &stream, limit: 1 << 20}
	for i := range uint64(10) {
		m, _, err := fr.next()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetIndex() != i || len(m.GetEntries()[0].GetData()) != int(i)*100 {
			t.Fatalf("frame %d decoded as index %d with %d bytes", i, m.GetIndex(), len(m.GetEntries()[0].GetData()))
		}
	}
}

func TestFrameLimits(t *testing.T) {
	m := &raftpb.Message{Type: raftpb.MsgSnap.Enum(), Snapshot: &raftpb.Snapshot{Data: make([]byte, 1000)}}
	if _, err := appendFrame(nil, m, 999); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("encoding past the limit: %v", err)
	}
	frame, err := appendFrame(nil, m, 2000)
	if err != nil {
		t.Fatal(err)
	}
	fr := frameReader{r: bytes.NewReader(frame), limit: 999}
	if _, _, err := fr.next(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("decoding past the limit: %v", err)
	}
}

func TestJudgeHello(t *testing.T) {
	known := func(id uint64) bool { return id == 1 }
	tests := []struct {
		name string
		h    hello
		want error
	}{
		{"ok", hello{version: version, cluster: 7, from: 1, to: 2}, nil},
		{"version", hello{version: 9, cluster: 7, from: 1, to: 2}, ErrVersion},
		{"cluster", hello{version: version, cluster: 8, from: 1, to: 2}, ErrClusterMismatch},
		{"wrong-member", hello{version: version, cluster: 7, from: 1, to: 3}, ErrIDMismatch},
		{"unknown-sender", hello{version: version, cluster: 7, from: 5, to: 2}, ErrUnknownPeer},
		{"snapshot", hello{version: version, kind: kindSnapshot, cluster: 7, from: 1, to: 2}, nil},
		{"unknown-kind", hello{version: version, kind: 9, cluster: 7, from: 1, to: 2}, ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeHello(&b, tt.h); err != nil {
				t.Fatal(err)
			}
			h, err := readHello(&b)
			if err != nil || h != tt.h {
				t.Fatalf("hello round trip: %+v, %v", h, err)
			}
			status, err := judgeHello(h, 7, 2, known)
			if !errors.Is(err, tt.want) || (err == nil) != (status == statusOK) {
				t.Fatalf("judgeHello = %d, %v; want %v", status, err, tt.want)
			}
			// The dialler turns the reply back into the same sentinel.
			rp := reply{version: version, status: status, cluster: 7, id: 2}
			if err != nil {
				rp.reason = err.Error()
			}
			b.Reset()
			if err := writeReply(&b, rp); err != nil {
				t.Fatal(err)
			}
			got, err := readReply(&b)
			if err != nil || got != rp {
				t.Fatalf("reply round trip: %+v, %v", got, err)
			}
			if err := judgeReply(got, 7, 1, 2); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("judgeReply = %v, want %v", err, tt.want)
			}
		})
	}
}

// A length that announces gigabytes costs memory only as bytes arrive:
// reading a frame that stops short allocates about what was sent.
func TestFrameReadGrowsWithTheBytes(t *testing.T) {
	tests := []struct {
		name string
		sent int
	}{
		{"header-only", 0},
		{"100KiB", 100 << 10},
		{"3MiB", 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := make([]byte, frameHdrSize+tt.sent)
			binary.BigEndian.PutUint32(in, 2<<30)
			fr := frameReader{r: bytes.NewReader(in), limit: MaxFrameBytes}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := fr.next()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("a frame cut short: %v", err)
			}
			// Doubling from 64 KiB allocates at most 4 times what arrived.
			if got, most := after.TotalAlloc-before.TotalAlloc, uint64(4*tt.sent+firstChunk+64<<10); got > most {
				t.Fatalf("allocated %d bytes for %d sent of a 2 GiB frame, want at most %d", got, tt.sent, most)
			}
		})
	}
}

func TestFrameKeepAlives(t *testing.T) {
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Index: new(uint64(5))}
	frame, err := appendFrame(nil, m, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	in := append(make([]byte, 3*frameHdrSize), frame...)
	fr := frameReader{r: bytes.NewReader(in), limit: 1 << 20}
	for i := range 3 {
		if got, n, err := fr.next(); got != nil || n != frameHdrSize || err != nil {
			t.Fatalf("keep-alive %d read as %v, %d bytes, %v", i, got, n, err)
		}
	}
	got, n, err := fr.next()
	if err != nil || got.GetIndex() != 5 || n != len(frame) {
		t.Fatalf("next = index %d, %d bytes, %v; want index 5, %d bytes", got.GetIndex(), n, err, len(frame))
	}
}

func TestFrameMalformed(t *testing.T) {
	in := []byte{0, 0, 0, 3, 0xff, 0xff, 0xff}
	fr := frameReader{r: bytes.NewReader(in), limit: 1 << 20}
	if _, _, err := fr.next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage decoded: %v", err)
	}
}

func TestMessageBound(t *testing.T) {
	tests := []struct {
		name               string
		perMsg, entryBytes int64
		want               int64
	}{
		{"entries-fill-the-message", 1 << 20, 1 << 10, 2<<20 + messageOverhead},
		{"one-large-entry", 1 << 20, 3 << 20, 2*(3<<20+entryOverhead) + messageOverhead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MessageBound(tt.perMsg, tt.entryBytes); got != tt.want {
				t.Fatalf("MessageBound(%d, %d) = %d, want %d", tt.perMsg, tt.entryBytes, got, tt.want)
			}
		})
	}
	// A real append of entries up to the bound's inputs fits in it.
	const perMsg, entry = 64 << 10, 1 << 10
	var ents []*raftpb.Entry
	for size := 0; size < perMsg; size += entry {
		ents = append(ents, &raftpb.Entry{Term: new(uint64(1 << 60)), Index: new(uint64(1 << 60)), Type: raftpb.EntryNormal.Enum(), Data: make([]byte, entry)})
	}
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(uint64(1 << 60)), To: new(uint64(1 << 60)), Entries: ents}
	if _, err := appendFrame(nil, m, MessageBound(perMsg, entry)); err != nil {
		t.Fatal(err)
	}
}
