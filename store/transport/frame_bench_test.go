package transport

import (
	"bufio"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// benchBatch is how many distinct messages the frame benchmarks cycle
// through: one burst of appends to one peer.
const benchBatch = 64

// frameBenchCase is a kind of message the peer stream carries: an append
// with entries of entry bytes each, or an append's acknowledgement.
type frameBenchCase struct {
	msg     string
	entries int
	entry   int
}

func (c frameBenchCase) name() string {
	if c.msg == "app" {
		return fmt.Sprintf("msg=%s/entries=%d/entry=%d", c.msg, c.entries, c.entry)
	}
	return "msg=" + c.msg
}

func frameBenchCases() []frameBenchCase {
	return []frameBenchCase{
		{msg: "appresp"},
		{msg: "app", entries: 1, entry: 256},
		{msg: "app", entries: 16, entry: 256},
		{msg: "app", entries: 256, entry: 256},
	}
}

// batch builds benchBatch consecutive messages of the case's kind from
// member 1 to member 2.
func (c frameBenchCase) batch() []*raftpb.Message {
	msgs := make([]*raftpb.Message, benchBatch)
	for i := range msgs {
		index := uint64(i * c.entries)
		m := &raftpb.Message{From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(3)), Index: new(index), Commit: new(index)}
		switch c.msg {
		case "app":
			m.Type = raftpb.MsgApp.Enum()
			m.LogTerm = new(uint64(3))
			for j := range c.entries {
				m.Entries = append(m.Entries, &raftpb.Entry{Term: new(uint64(3)), Index: new(index + uint64(j) + 1), Data: make([]byte, c.entry)})
			}
		case "appresp":
			m.Type = raftpb.MsgAppResp.Enum()
		}
		msgs[i] = m
	}
	return msgs
}

// encodeStream returns msgs framed back to back, as a stream connection
// carries them, and the mean frame size.
func encodeStream(tb testing.TB, msgs []*raftpb.Message) ([]byte, int64) {
	tb.Helper()
	var stream, frame []byte
	for _, m := range msgs {
		var err error
		if frame, err = appendFrame(frame, m, DefaultMaxMessageBytes); err != nil {
			tb.Fatal(err)
		}
		stream = append(stream, frame...)
	}
	return stream, int64(len(stream) / len(msgs))
}

// BenchmarkFrameEncode measures appendFrame, the peer stream's encoder,
// per message: one op encodes one message of a burst into the reused
// frame buffer, and the bytes are the frame's.
func BenchmarkFrameEncode(b *testing.B) {
	for _, c := range frameBenchCases() {
		b.Run(c.name(), func(b *testing.B) {
			msgs := c.batch()
			_, size := encodeStream(b, msgs)
			var frame []byte
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				var err error
				if frame, err = appendFrame(frame, msgs[i%len(msgs)], DefaultMaxMessageBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader reads stream over and over, without end. stream holds whole
// frames, so a frame reader on it never sees a frame cut at the wrap.
type loopReader struct {
	stream []byte
	off    int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.stream[r.off:])
	r.off = (r.off + n) % len(r.stream)
	return n, nil
}

// BenchmarkFrameDecode measures the peer stream's decoder per message:
// one op reads one frame through the 64 KiB buffered reader an accepted
// connection reads with and decodes its message, and the bytes are the
// frame's.
func BenchmarkFrameDecode(b *testing.B) {
	for _, c := range frameBenchCases() {
		b.Run(c.name(), func(b *testing.B) {
			msgs := c.batch()
			stream, size := encodeStream(b, msgs)
			fr := frameReader{r: bufio.NewReaderSize(&loopReader{stream: stream}, 64<<10), limit: DefaultMaxMessageBytes}
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				m, _, err := fr.next()
				if err != nil {
					b.Fatal(err)
				}
				if want := msgs[i%len(msgs)]; m.GetIndex() != want.GetIndex() || len(m.GetEntries()) != len(want.GetEntries()) {
					b.Fatalf("frame %d decoded as index %d with %d entries, want index %d with %d", i, m.GetIndex(), len(m.GetEntries()), want.GetIndex(), len(want.GetEntries()))
				}
			}
		})
	}
}
