package plots

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/adrbench/adrbench/results"
)

// speedupCell is an adr point with the batched and fsync points it is
// compared with: the same configuration but for the backend.
type speedupCell struct{ adr, batched, fsync *results.Point }

// bases are the cell's baselines, by backend name, in the order the figure
// lists them; a missing one is nil.
func (c *speedupCell) bases() []speedupBase {
	return []speedupBase{{results.BackendBatched, c.batched}, {results.BackendFsync, c.fsync}}
}

type speedupBase struct {
	name string
	p    *results.Point
}

// fsyncMs is the disk's measured fsync latency in the cell: the p50 log
// sync latency of its fsync point, else of its batched point.
func (c *speedupCell) fsyncMs() (float64, bool) {
	for _, p := range []*results.Point{c.fsync, c.batched} {
		if p != nil && p.LogSyncLatencyMs != nil && p.LogSyncLatencyMs.P50 > 0 {
			return p.LogSyncLatencyMs.P50, true
		}
	}
	return 0, false
}

func speedup(r *results.Run) (*canvasFig, Table, string, error) {
	ps := closedPoints(r)
	cells := speedupCells(ps)
	if len(cells) == 0 {
		return nil, Table{}, "the run has no adr point with a batched or fsync point to compare it with (same nodes, delay, disk and clients)", nil
	}
	ax := newSpeedupAxis(cells)
	withC := distinctClients(ps)
	var names []string
	for _, c := range cells {
		for _, b := range c.bases() {
			if b.p != nil {
				names = append(names, speedupSeries(b.name, c, withC))
			}
		}
	}
	f := newCanvasFig("ADR speedup against the disk's fsync latency", names)
	f.cols = 2
	tab := Table{Header: []string{"panel", "series", "disk profile", "fsync p50 (ms)", "adr (ops/s)", "baseline (ops/s)", "speedup (×)"}}
	byDelay := map[float64][]*speedupCell{}
	for _, c := range cells {
		byDelay[c.adr.NetDelayMs] = append(byDelay[c.adr.NetDelayMs], c)
	}
	for _, d := range slices.Sorted(maps.Keys(byDelay)) {
		pl, err := speedupPanel(f, &tab, fmt.Sprintf("net delay %s ms", fmtF(d)), byDelay[d], ax, withC)
		if err != nil {
			return nil, Table{}, "", err
		}
		f.panels = append(f.panels, pl)
	}
	return f, tab, "", nil
}

// speedupCells pairs each inproc adr point that has throughput with the
// batched and fsync points of the same configuration, leaving out adr
// points with neither, in the order of their keys.
func speedupCells(ps []*results.Point) []*speedupCell {
	cells := map[string]*speedupCell{}
	for _, p := range ps {
		if p.Target != results.TargetInproc {
			continue
		}
		// Points compare when only the backend differs.
		k := p.Key()
		k.Backend = ""
		key := k.String()
		c := cells[key]
		if c == nil {
			c = &speedupCell{}
			cells[key] = c
		}
		switch p.Backend {
		case results.BackendADR:
			c.adr = p
		case results.BackendBatched:
			c.batched = p
		case results.BackendFsync:
			c.fsync = p
		}
	}
	var usable []*speedupCell
	for _, k := range slices.Sorted(maps.Keys(cells)) {
		if c := cells[k]; c.adr != nil && (c.batched != nil || c.fsync != nil) && c.adr.Throughput > 0 {
			usable = append(usable, c)
		}
	}
	return usable
}

// speedupAxis is the figure's x axis: the disk's measured fsync latency
// when every cell has one, so the axis means the same thing throughout;
// else the disk profiles, as names.
type speedupAxis struct {
	numeric  bool
	profiles []string // in the order the run lists them
}

func newSpeedupAxis(cells []*speedupCell) speedupAxis {
	ax := speedupAxis{numeric: true}
	var profiles []string
	for _, c := range cells {
		if _, ok := c.fsyncMs(); !ok {
			ax.numeric = false
		}
		profiles = append(profiles, c.adr.DiskProfile)
	}
	ax.profiles = slices.Compact(sortedByFirst(profiles))
	return ax
}

func (ax speedupAxis) x(c *speedupCell) float64 {
	if ax.numeric {
		v, _ := c.fsyncMs()
		return v
	}
	return float64(slices.Index(ax.profiles, c.adr.DiskProfile))
}

func (ax speedupAxis) label() string {
	if ax.numeric {
		return "fsync latency of the disk, p50 (ms)"
	}
	return "disk profile (fsync latency not recorded)"
}

// speedupSeries names the line of adr against base in c's cluster size.
func speedupSeries(base string, c *speedupCell, withClients bool) string {
	s := fmt.Sprintf("adr / %s, %d member(s)", base, c.adr.Nodes)
	if emulatedBeyondDisk(c.adr) {
		s += " (emulated)"
	}
	if withClients {
		s += fmt.Sprintf(" c=%d", c.adr.Clients)
	}
	return s
}

// speedupPanel draws one network delay's cells: a line per baseline and
// cluster size, and a dashed line at 1 (no speedup); it adds the values to
// tab.
func speedupPanel(f *canvasFig, tab *Table, title string, cells []*speedupCell, ax speedupAxis, withC bool) (*plot.Plot, error) {
	pl := newPanel(title, ax.label(), "speedup of adr (× writes/s)")
	if !ax.numeric {
		pl.NominalX(ax.profiles...)
	}
	pl.Y.Min = 0
	series := map[string]plotter.XYs{}
	var order []string
	for _, c := range cells {
		lat := "unknown"
		if ms, ok := c.fsyncMs(); ok {
			lat = fmtF(ms)
		}
		for _, base := range c.bases() {
			if base.p == nil || base.p.Throughput <= 0 {
				continue
			}
			s := speedupSeries(base.name, c, withC)
			v := c.adr.Throughput / base.p.Throughput
			if _, ok := series[s]; !ok {
				order = append(order, s)
			}
			series[s] = append(series[s], plotter.XY{X: ax.x(c), Y: v})
			tab.Rows = append(tab.Rows, []string{title, s, c.adr.DiskProfile, lat, fmtF(c.adr.Throughput), fmtF(base.p.Throughput), fmtF(v)})
		}
	}
	for _, s := range order {
		xys := series[s]
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		if err := f.addSeries(pl, s, xys); err != nil {
			return nil, err
		}
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	pl.Add(one)
	return pl, nil
}
