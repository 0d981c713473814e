package transport

import (
	"bytes"
	"errors"
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
