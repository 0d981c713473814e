package adr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// testRegionSize gives a 4 KiB data area: small, so the workloads below
// wrap around many times.
const testRegionSize = ringDataOff + 4096

// payloadOf is record k's payload: k itself, then bytes derived from k, so
// a record found after a crash names which one it is and proves it whole.
func payloadOf(k uint64, n int) []byte {
	p := make([]byte, max(n, 8))
	binary.LittleEndian.PutUint64(p, k)
	for i := 8; i < len(p); i++ {
		p[i] = byte(k*31 + uint64(i))
	}
	return p
}

func scanAll(t *testing.T, g *Ring) [][]byte {
	t.Helper()
	var out [][]byte
	if err := g.Scan(func(_, _ uint64, p []byte) error {
		out = append(out, bytes.Clone(p))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// testIdentity is the identity the tests format rings with.
func testIdentity() Identity {
	return Identity{Ring: UUID{0x0a, 0xd7, 0x01}, Cluster: 0xc1, Member: 0x31, Drained: 17}
}

// openRing opens the ring in r, formatting it first when r is all zero.
func openRing(t *testing.T, r Region) *Ring {
	t.Helper()
	var g *Ring
	var err error
	if Inspect(r).Kind == ContentZero {
		g, err = FormatRing(r, testIdentity())
	} else {
		g, err = OpenRing(r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRingAppendReopen(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"empty", nil},
		{"one empty payload", []int{0}},
		{"odd sizes", []int{1, 7, 8, 9, 100, 333}},
		{"largest", []int{(testRegionSize-ringDataOff)/2 - recHeaderLen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSim(testRegionSize)
			g := openRing(t, s)
			var want [][]byte
			for k, n := range tt.sizes {
				p := payloadOf(uint64(k), n)[:n]
				end, err := g.Append(p)
				if err != nil {
					t.Fatal(err)
				}
				if end != g.Tail() {
					t.Fatalf("Append returned %d, tail %d", end, g.Tail())
				}
				want = append(want, p)
			}
			// A power loss right now keeps everything Append returned.
			g2 := openRing(t, SimFrom(s.Crash(rand.New(rand.NewSource(1)), 0)))
			got := scanAll(t, g2)
			if len(got) != len(want) {
				t.Fatalf("recovered %d records, want %d", len(got), len(want))
			}
			for k := range want {
				if !bytes.Equal(got[k], want[k]) {
					t.Fatalf("record %d = %x, want %x", k, got[k], want[k])
				}
			}
			if g2.Head() != 0 || g2.Tail() != g.Tail() {
				t.Fatalf("recovered head %d tail %d, want 0, %d", g2.Head(), g2.Tail(), g.Tail())
			}
		})
	}
}

// TestRingWrapAround fills and drains the ring with sizes that end laps
// with a padding record, with an implicit skip (8 bytes left) and exactly
// at the end.
func TestRingWrapAround(t *testing.T) {
	tests := []struct {
		name string
		size int // payload size; records repeat until several laps
	}{
		{"padding record", 300},
		{"exact fit", 4096/8 - recHeaderLen},         // 8 records a lap
		{"implicit skip", 4096/5 - 8 - recHeaderLen}, // 5 records leave 8 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSim(testRegionSize)
			g := openRing(t, s)
			var kept []uint64
			var ends []uint64
			for k := uint64(0); g.Tail() < 5*uint64(g.DataSize()); k++ {
				end, err := g.Append(payloadOf(k, tt.size))
				if errors.Is(err, ErrRingFull) {
					must(t, g.Release(ends[0]))
					kept, ends = kept[1:], ends[1:]
					end, err = g.Append(payloadOf(k, tt.size))
				}
				must(t, err)
				kept, ends = append(kept, k), append(ends, end)
			}
			// Payload reads each kept record in place, across the
			// laps and paddings, and no released one.
			n := len(payloadOf(0, tt.size))
			for i, k := range kept {
				p, err := g.Payload(ends[i], n)
				must(t, err)
				if !bytes.Equal(p, payloadOf(k, tt.size)) {
					t.Fatalf("Payload of record %d is not its payload", k)
				}
			}
			if _, err := g.Payload(g.Head(), n); !errors.Is(err, ErrNoRecord) {
				t.Fatalf("Payload of a released record: %v, want ErrNoRecord", err)
			}
			if _, err := g.Payload(g.Tail()+recLen(n), n); !errors.Is(err, ErrNoRecord) {
				t.Fatalf("Payload of a record after TAIL: %v, want ErrNoRecord", err)
			}
			got := scanAll(t, openRing(t, SimFrom(s.Crash(rand.New(rand.NewSource(2)), 0))))
			if len(got) != len(kept) {
				t.Fatalf("recovered %d records, want %d", len(got), len(kept))
			}
			for i, k := range kept {
				if !bytes.Equal(got[i], payloadOf(k, tt.size)) {
					t.Fatalf("record %d is not record %d", i, k)
				}
			}
		})
	}
}

func TestRingFullAndTooLarge(t *testing.T) {
	g := openRing(t, NewSim(testRegionSize))
	if _, err := g.Append(make([]byte, g.MaxPayload()+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversized Append: %v", err)
	}
	var ends []uint64
	var err error
	for err == nil {
		var end uint64
		if end, err = g.Append(make([]byte, 500)); err == nil {
			ends = append(ends, end)
		}
	}
	if !errors.Is(err, ErrRingFull) {
		t.Fatalf("Append to a full ring: %v", err)
	}
	if err := g.Release(g.Tail() + 8); !errors.Is(err, ErrRingRelease) {
		t.Fatalf("Release past tail: %v", err)
	}
	must(t, g.Release(ends[0]))
	if _, err := g.Append(make([]byte, 500)); err != nil {
		t.Fatalf("Append after Release: %v", err)
	}
	must(t, g.Close())
	if _, err := g.Append(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
}

// TestRingRecovery damages a ring with three records and reopens it.
func TestRingRecovery(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(mem []byte)
		want    error  // nil: opens
		naming  string // the error names this
		records int
	}{
		{"garbage beyond tail is ignored", func(mem []byte) {
			copy(mem[ringDataOff+3*recLen(100):], bytes.Repeat([]byte{0xa5}, 200))
		}, nil, "", 3},
		{"payload bit flip", func(mem []byte) {
			mem[ringDataOff+recLen(100)+recHeaderLen+5] ^= 1
		}, ErrRingCorrupt, fmt.Sprintf("record at offset %d", recLen(100)), 0},
		{"stale sequence", func(mem []byte) {
			binary.LittleEndian.PutUint64(mem[ringDataOff+8:], 4096)
		}, ErrRingCorrupt, "record at offset 0", 0},
		{"length past tail", func(mem []byte) {
			binary.LittleEndian.PutUint32(mem[ringDataOff+2*recLen(100)+4:], 300)
		}, ErrRingCorrupt, fmt.Sprintf("record at offset %d", 2*recLen(100)), 0},
		{"tail behind head", func(mem []byte) {
			binary.LittleEndian.PutUint64(mem[headOff:], 8*recLen(100))
		}, ErrRingCorrupt, "head", 0},
		{"superblock damaged", func(mem []byte) { mem[20] ^= 1 }, ErrRingCorrupt, "superblock checksum", 0},
		{"identity damaged", func(mem []byte) { mem[sbMember] ^= 0x10 }, ErrRingCorrupt, "superblock checksum", 0},
		{"magic number bit flip", func(mem []byte) { mem[3] ^= 4 }, ErrRingCorrupt, "magic number damaged", 0},
		{"magic number cleared", func(mem []byte) { clear(mem[:8]) }, ErrRingFormat, "a format that did not finish", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSim(testRegionSize)
			g := openRing(t, s)
			for k := range 3 {
				if _, err := g.Append(payloadOf(uint64(k), 100)); err != nil {
					t.Fatal(err)
				}
			}
			img := s.Crash(rand.New(rand.NewSource(3)), 0)
			tt.damage(img)
			g2, err := OpenRing(SimFrom(img))
			if !errors.Is(err, tt.want) {
				t.Fatalf("open: err = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.naming) {
					t.Fatalf("error %q does not name %q", err, tt.naming)
				}
				return
			}
			if n := len(scanAll(t, g2)); n != tt.records {
				t.Fatalf("recovered %d records, want %d", n, tt.records)
			}
		})
	}
}

// TestInspect tells the contents a region can have apart, without
// changing the region, and OpenRing refuses every one that is not a ring.
func TestInspect(t *testing.T) {
	ring := func() *Sim {
		s := NewSim(testRegionSize)
		g := openRing(t, s)
		for k := range 3 {
			if _, err := g.Append(payloadOf(uint64(k), 100)); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	tests := []struct {
		name   string
		region func() *Sim
		kind   ContentKind
		used   uint64
		open   error // OpenRing's error; nil: opens
	}{
		{"zero", func() *Sim { return NewSim(testRegionSize) }, ContentZero, 0, ErrNoRing},
		{"one byte set far from the superblock", func() *Sim {
			s := NewSim(testRegionSize)
			s.Bytes()[testRegionSize-1] = 1
			return s
		}, ContentOther, 0, ErrRingFormat},
		{"ring", ring, ContentRing, 3 * recLen(100), nil},
		{"ring with a damaged superblock", func() *Sim {
			s := ring()
			s.Bytes()[sbDrained] ^= 1
			return s
		}, ContentOther, 0, ErrRingCorrupt},
		{"too small and dirty", func() *Sim {
			s := NewSim(ringDataOff + 512)
			s.Bytes()[0] = 1
			return s
		}, ContentOther, 0, ErrRingFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.region()
			before, ops := bytes.Clone(s.Bytes()), s.Ops()
			c := Inspect(s)
			if c.Kind != tt.kind || c.Used != tt.used {
				t.Fatalf("Inspect = kind %d, used %d (%s); want kind %d, used %d", c.Kind, c.Used, c.Describe(), tt.kind, tt.used)
			}
			if c.Kind == ContentRing && c.Identity != testIdentity() {
				t.Fatalf("identity %v, want %v", c.Identity, testIdentity())
			}
			if (c.Kind == ContentOther) != (c.Err != nil) {
				t.Fatalf("kind %d with error %v", c.Kind, c.Err)
			}
			if !bytes.Equal(s.Bytes(), before) || s.Ops() != ops {
				t.Fatal("Inspect changed the region")
			}
			_, err := OpenRing(s)
			if !errors.Is(err, tt.open) || (tt.open == nil) != (err == nil) {
				t.Fatalf("OpenRing: %v, want %v", err, tt.open)
			}
		})
	}
}

func TestUUID(t *testing.T) {
	a, err := NewUUID()
	must(t, err)
	b, err := NewUUID()
	must(t, err)
	if a == b || a.IsZero() {
		t.Fatalf("two random ids %s and %s", a, b)
	}
	if s := a.String(); len(s) != 36 || s[14] != '4' || strings.Count(s, "-") != 4 {
		t.Fatalf("%q is not a version 4 UUID", s)
	}
}

func TestRingRegionChecks(t *testing.T) {
	if _, err := OpenRing(NewSim(ringDataOff + 512)); !errors.Is(err, ErrRingFormat) {
		t.Fatalf("tiny region: %v", err)
	}
	if _, err := FormatRing(NewSim(ringDataOff+512), testIdentity()); !errors.Is(err, ErrRingFormat) {
		t.Fatalf("format a tiny region: %v", err)
	}
	s := NewSim(testRegionSize)
	openRing(t, s)
	bigger := NewSim(testRegionSize + LineSize)
	copy(bigger.Bytes(), s.Bytes())
	if _, err := OpenRing(bigger); !errors.Is(err, ErrRingFormat) {
		t.Fatalf("region of another size: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
