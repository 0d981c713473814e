package plan

import (
	"errors"
	"math"
	"testing"
)

// TestFitGCRecoversTheCollector builds runs from a known collector (bytes
// allocated per write and per entry, live heap per member, per entry and
// per client in flight, marking CPU per live byte, a mark's share of the
// cores) and checks that
// fitGC finds it again.
func TestFitGCRecoversTheCollector(t *testing.T) {
	const (
		allocWrite, allocEntry = 9e3, 4e3
		base, perMember        = 3e6, 2e6
		perEntry, markPerByte  = 600.0, 1e-9
		load, perClient        = 2e6, 20e3
		share                  = 0.7
	)
	var runs []CalRun
	for _, n := range calNodes {
		for _, cc := range calClients {
			s := DefaultSetup()
			s.Nodes, s.Clients, s.Conns = n, cc[0], cc[1]
			ops := int64(1000 * (n + cc[0]))
			entries := make([]uint64, n)
			var total float64
			for i := range entries {
				entries[i] = uint64(ops)
				total += float64(ops)
			}
			fresh := base + perMember*float64(n)
			start := fresh + 1e6
			end := start + perEntry*total
			alloc := allocWrite*float64(ops) + allocEntry*total
			cycles := alloc / ((start + end) / 2)
			loaded := load + perClient*float64(cc[0])
			mark := cycles * markPerByte * ((start+end)/2 + loaded)
			// On a busy machine the background workers do a quarter of
			// the cores' work while marking and assists the rest of the
			// share.
			bg := mark * gcBackgroundShare / share
			runs = append(runs, CalRun{Setup: s, Ops: ops, Entries: entries, CPU: 4 * mark, GC: &GCStats{
				Cycles: cycles, Alloc: alloc, Assist: mark - bg, Dedicated: bg,
				LiveFresh: fresh, LiveStart: start, LiveEnd: end, LiveLoaded: end + loaded}})
		}
	}
	cal := &Calibration{}
	if err := fitGC(cal, runs, 100); err != nil {
		t.Fatal(err)
	}
	g := cal.GC
	tests := []struct {
		name      string
		got, want float64
	}{
		{"percent", g.Percent, 100},
		{"alloc per write", g.AllocWrite, allocWrite},
		{"alloc per entry", g.AllocEntry, allocEntry},
		{"live base", g.LiveBase, base},
		{"live per member", g.LivePerMember, perMember},
		{"live per entry", g.LivePerEntry, perEntry},
		{"live under load", g.LiveLoad, load},
		{"live per client", g.LivePerClient, perClient},
		{"mark per byte", g.MarkPerByte, markPerByte},
		{"share", g.Share, share},
		{"overhead", g.Overhead, 1.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if math.Abs(tt.got-tt.want) > 1e-6*math.Abs(tt.want) {
				t.Fatalf("%s = %g, want %g (%s)", tt.name, tt.got, tt.want, g.Fit)
			}
		})
	}
	m := g.modelGC(3, 100, 2)
	if want := base + 3*perMember + load + 100*perClient; math.Abs(m.LiveBase-want) > 1e-6*want || math.Abs(m.MarkPerByte-2*markPerByte) > 1e-6*markPerByte {
		t.Fatalf("model collector for 3 members and 100 clients at half speed: live base %g (want %g), mark %g per byte", m.LiveBase, want, m.MarkPerByte)
	}

	runs[0].GC = nil
	if err := fitGC(cal, runs, 100); !errors.Is(err, ErrCalibration) {
		t.Fatalf("fitGC with a run without statistics = %v, want ErrCalibration", err)
	}
}
