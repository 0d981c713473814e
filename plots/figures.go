package plots

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/adrbench/adrbench/results"
)

// Figure names, which are also their files' stems.
const (
	FigThroughput = "throughput-vs-nodes"
	FigP99        = "p99-vs-nodes"
	FigKnee       = "latency-vs-throughput"
	FigSpectrum   = "latency-spectrum"
	FigTimeline   = "throughput-over-time"
	FigSpeedup    = "adr-speedup"
)

// builder draws one figure from a run, or says why it cannot.
type builder struct {
	name, title, caption string
	build                func(run *results.Run) (*canvasFig, Table, string, error)
}

func builders() []builder {
	return []builder{
		{FigThroughput, "Writes per second against cluster size",
			"Closed loop: each client sends its next request when the previous one returns. One line per log backend; one panel per disk profile and network delay.",
			func(r *results.Run) (*canvasFig, Table, string, error) {
				return byNodes(r, "Throughput against cluster size", func(p *results.Point) float64 { return p.Throughput }, "throughput (%s/s)", true)
			}},
		{FigP99, "p99 write latency against cluster size",
			"Closed loop, latency from send to response. Same layout as the throughput figure.",
			func(r *results.Run) (*canvasFig, Table, string, error) {
				return byNodes(r, "p99 latency against cluster size", func(p *results.Point) float64 { return p.LatencyMs.P99 }, "p99 latency (ms)", false)
			}},
		{FigKnee, "Latency against achieved throughput (open loop)",
			"Open loop at fixed rates, latency measured from each request's intended send time, so queueing shows: where a line turns up is that configuration's knee.",
			knee},
		{FigSpectrum, "Latency percentile spectrum",
			"HdrHistogram-style: latency at each percentile up to p99.99, one line per backend, at one cluster size (5 members when measured).",
			spectrum},
		{FigTimeline, "Throughput over time",
			"Operations completed in each second of the measured phase (warm-up excluded), one line per point, one panel per cluster size, disk profile and delay.",
			timeline},
		{FigSpeedup, "ADR speedup against fsync latency",
			"Writes/s of the adr backend divided by those of batched and of fsync at the same cluster size, delay and clients, against the fsync latency of the disk (the fsync backend's measured p50 sync latency when known, the disk profile otherwise).",
			speedup},
	}
}

// seriesLabel names the series a point belongs to: its backend (or etcd as
// a reference), with the labels a reader must not miss.
func seriesLabel(p *results.Point, withClients bool) string {
	var b strings.Builder
	switch p.Target {
	case results.TargetInproc:
		b.WriteString(p.Backend)
	case results.TargetEtcd:
		b.WriteString("etcd (reference)")
	default:
		b.WriteString(p.Target)
	}
	if p.TLS {
		b.WriteString(" TLS")
	}
	if p.Unsafe != "" {
		b.WriteString(" (unsafe)")
	}
	if emulatedBeyondDisk(p) {
		b.WriteString(" (emulated)")
	}
	if withClients {
		fmt.Fprintf(&b, " c=%d", p.Clients)
	}
	return b.String()
}

// emulatedBeyondDisk reports emulated parts other than the disk profile,
// which the panel title already names (an emulated adr region, say).
func emulatedBeyondDisk(p *results.Point) bool {
	for _, e := range p.Emulated {
		if !strings.HasPrefix(e, "disk-") {
			return true
		}
	}
	return false
}

func diskEmulated(p *results.Point) bool {
	for _, e := range p.Emulated {
		if strings.HasPrefix(e, "disk-") {
			return true
		}
	}
	return p.DiskProfile != "" && p.DiskProfile != "native"
}

// panelTitle names a disk profile and network delay.
func panelTitle(p *results.Point) string {
	disk := p.DiskProfile
	if disk == "" {
		disk = "native"
	}
	if diskEmulated(p) {
		disk += " (emulated)"
	}
	return fmt.Sprintf("disk %s, net delay %s ms", disk, fmtF(p.NetDelayMs))
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func isDashed(label string) bool { return strings.HasPrefix(label, "etcd") }

func closedPoints(r *results.Run) []*results.Point {
	var ps []*results.Point
	for i := range r.Points {
		if r.Points[i].Mode == results.ModeClosed {
			ps = append(ps, &r.Points[i])
		}
	}
	return ps
}

func distinctClients(ps []*results.Point) bool {
	for _, p := range ps {
		if p.Clients != ps[0].Clients || p.Conns != ps[0].Conns {
			return true
		}
	}
	return false
}

// unit is what one operation of the run's workload is called on an axis.
func unit(ps []*results.Point) string {
	for _, p := range ps {
		if p.Workload != "put" {
			return "ops"
		}
	}
	return "writes"
}

// groups splits points by a key, keeping the keys in first-seen order.
func groups(ps []*results.Point, key func(*results.Point) string) ([]string, map[string][]*results.Point) {
	var order []string
	m := map[string][]*results.Point{}
	for _, p := range ps {
		k := key(p)
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = append(m[k], p)
	}
	return order, m
}

func byNodes(r *results.Run, title string, metric func(*results.Point) float64, yLabel string, fromZero bool) (*canvasFig, Table, string, error) {
	ps := closedPoints(r)
	if len(ps) == 0 {
		return nil, Table{}, "the run has no closed-loop points", nil
	}
	if strings.Contains(yLabel, "%s") {
		yLabel = fmt.Sprintf(yLabel, unit(ps))
	}
	withC := distinctClients(ps)
	var sizes []int
	var names []string
	for _, p := range ps {
		names = append(names, seriesLabel(p, withC))
		sizes = append(sizes, p.Nodes)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	f := newCanvasFig(fmt.Sprintf("%s (%s, %s)", title, ps[0].Workload, clientsNote(ps, withC)), names)
	f.cols = 2
	tab := Table{Header: []string{"panel", "series", "nodes", yLabel}}
	order, panels := groups(ps, panelTitle)
	for _, key := range order {
		pl := newPanel(key, "cluster size (members)", yLabel)
		pl.X.Tick.Marker = nodeTicks(sizes)
		pl.X.Min, pl.X.Max = float64(sizes[0])-0.5, float64(sizes[len(sizes)-1])+0.5
		sorder, series := groups(panels[key], func(p *results.Point) string { return seriesLabel(p, withC) })
		for _, s := range sorder {
			pts := slices.Clone(series[s])
			slices.SortFunc(pts, func(a, b *results.Point) int { return a.Nodes - b.Nodes })
			var xys plotter.XYs
			for _, p := range pts {
				xys = append(xys, plotter.XY{X: float64(p.Nodes), Y: metric(p)})
				tab.Rows = append(tab.Rows, []string{key, s, strconv.Itoa(p.Nodes), fmtF(metric(p))})
			}
			f.dashed[s] = isDashed(s)
			if err := f.addSeries(pl, s, xys); err != nil {
				return nil, Table{}, "", err
			}
		}
		if fromZero {
			pl.Y.Min = 0
		}
		f.panels = append(f.panels, pl)
	}
	return f, tab, "", nil
}

func clientsNote(ps []*results.Point, withC bool) string {
	if withC {
		return "closed loop, clients as labelled"
	}
	return fmt.Sprintf("closed loop, %d clients over %d connections", ps[0].Clients, ps[0].Conns)
}

func knee(r *results.Run) (*canvasFig, Table, string, error) {
	var ps []*results.Point
	for i := range r.Points {
		if p := &r.Points[i]; p.Mode == results.ModeOpen && p.Ops > 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, Table{}, "the run has no open-loop points (add open_loop.rates to the sweep config)", nil
	}
	name := func(p *results.Point) string {
		return seriesLabel(p, false) + ", " + strconv.Itoa(p.Nodes) + " member(s)"
	}
	var names []string
	for _, p := range ps {
		names = append(names, name(p))
	}
	f := newCanvasFig(fmt.Sprintf("Latency against achieved throughput (%s, open loop)", ps[0].Workload), names)
	f.cols = 2
	tab := Table{Header: []string{"panel", "series", "target rate (ops/s)", "achieved (ops/s)", "p50 (ms)", "p99 (ms)"}}
	porder, panels := groups(ps, panelTitle)
	for _, key := range porder {
		order, series := groups(panels[key], name)
		for _, s := range order {
			slices.SortFunc(series[s], func(a, b *results.Point) int { return cmp.Compare(a.RateOpsS, b.RateOpsS) })
			for _, p := range series[s] {
				tab.Rows = append(tab.Rows, []string{key, s, fmtF(p.RateOpsS), fmtF(p.Throughput), fmtF(p.LatencyMs.P50), fmtF(p.LatencyMs.P99)})
			}
		}
		// One row per disk and delay: p50 on the left, p99 on the right.
		for _, q := range []struct {
			name string
			v    func(*results.Point) float64
		}{{"p50", func(p *results.Point) float64 { return p.LatencyMs.P50 }}, {"p99", func(p *results.Point) float64 { return p.LatencyMs.P99 }}} {
			pl := newPanel(q.name+", "+key, fmt.Sprintf("achieved throughput (%s/s)", unit(ps)), q.name+" latency (ms, log scale)")
			pl.Y.Scale = plot.LogScale{}
			pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			for _, s := range order {
				var xys plotter.XYs
				for _, p := range series[s] {
					// A log axis cannot show 0; a microsecond is below
					// what the histogram resolves anyway.
					xys = append(xys, plotter.XY{X: p.Throughput, Y: math.Max(q.v(p), 1e-3)})
				}
				f.dashed[s] = isDashed(s)
				if err := f.addSeries(pl, s, xys); err != nil {
					return nil, Table{}, "", err
				}
			}
			pl.X.Min = 0
			f.panels = append(f.panels, pl)
		}
	}
	return f, tab, "", nil
}

// focusNodes is the cluster size the spectrum shows: 5, the Intel
// article's, when measured; otherwise the largest measured.
func focusNodes(ps []*results.Point) int {
	best := 0
	for _, p := range ps {
		if p.Nodes == 5 {
			return 5
		}
		best = max(best, p.Nodes)
	}
	return best
}

func spectrum(r *results.Run) (*canvasFig, Table, string, error) {
	var ps []*results.Point
	for _, p := range closedPoints(r) {
		if p.Histogram != nil && p.Histogram.TotalCount() > 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, Table{}, "no closed-loop point of the run has a latency histogram", nil
	}
	n := focusNodes(ps)
	ps = slices.DeleteFunc(ps, func(p *results.Point) bool { return p.Nodes != n })
	withC := distinctClients(ps)
	var names []string
	for _, p := range ps {
		names = append(names, seriesLabel(p, withC))
	}
	f := newCanvasFig(fmt.Sprintf("Latency percentile spectrum, %d member(s) (%s, %s)", n, ps[0].Workload, clientsNote(ps, withC)), names)
	f.cols = 2
	const maxX = 1e4 // 1/(1-0.9999)
	tab := Table{Header: []string{"panel", "series", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "p99.99 (ms)", "max (ms)"}}
	order, panels := groups(ps, panelTitle)
	for _, key := range order {
		pl := newPanel(key, "percentile", "latency (ms)")
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = percentileTicks(maxX)
		pl.X.Min, pl.X.Max = 1, maxX
		pl.Y.Min = 0
		sorder, series := groups(panels[key], func(p *results.Point) string { return seriesLabel(p, withC) })
		for _, s := range sorder {
			h := series[s][0].Histogram
			var xys plotter.XYs
			// 20 samples per decade of 1/(1-q), from p0 to p99.99.
			for k := 0; k <= 80; k++ {
				x := math.Pow(10, float64(k)/20)
				q := 100 * (1 - 1/x)
				xys = append(xys, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(q)) / 1e6})
			}
			ms := func(q float64) string { return fmtF(float64(h.ValueAtQuantile(q)) / 1e6) }
			tab.Rows = append(tab.Rows, []string{key, s, ms(50), ms(90), ms(99), ms(99.9), ms(99.99), fmtF(float64(h.Max()) / 1e6)})
			f.dashed[s] = isDashed(s)
			if err := f.addLine(pl, s, xys); err != nil {
				return nil, Table{}, "", err
			}
		}
		f.panels = append(f.panels, pl)
	}
	return f, tab, "", nil
}

func timeline(r *results.Run) (*canvasFig, Table, string, error) {
	var ps []*results.Point
	for i := range r.Points {
		if len(r.Points[i].Series) > 0 {
			ps = append(ps, &r.Points[i])
		}
	}
	if len(ps) == 0 {
		return nil, Table{}, "no point of the run has a per-second series", nil
	}
	withC := distinctClients(ps)
	name := func(p *results.Point) string {
		s := seriesLabel(p, withC)
		if p.Mode == results.ModeOpen {
			s += " @" + fmtF(p.RateOpsS) + "/s"
		}
		return s
	}
	var names []string
	for _, p := range ps {
		names = append(names, name(p))
	}
	f := newCanvasFig(fmt.Sprintf("Throughput in each second (%s)", ps[0].Workload), names)
	f.cols = 3
	tab := Table{Header: []string{"panel", "series", "seconds", "min (ops/s)", "mean (ops/s)", "max (ops/s)"}}
	order, panels := groups(ps, func(p *results.Point) string {
		return fmt.Sprintf("%s loop, %d member(s), %s", p.Mode, p.Nodes, panelTitle(p))
	})
	for _, key := range order {
		pl := newPanel(key, "time (s)", fmt.Sprintf("throughput (%s/s)", unit(ps)))
		pl.Title.TextStyle.Font.Size = 9
		pl.Y.Min = 0
		for _, p := range panels[key] {
			s := name(p)
			var xys plotter.XYs
			lo, hi, sum := math.Inf(1), 0.0, 0.0
			prev := 0.0
			for _, sec := range p.Series {
				// An interval shorter than a second (the last one) is
				// scaled to a rate, not plotted as a dip.
				dt := sec.T - prev
				prev = sec.T
				if dt <= 0 {
					continue
				}
				v := float64(sec.Ops) / dt
				xys = append(xys, plotter.XY{X: sec.T, Y: v})
				lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
			}
			if len(xys) == 0 {
				continue
			}
			tab.Rows = append(tab.Rows, []string{key, s, strconv.Itoa(len(xys)), fmtF(lo), fmtF(sum / float64(len(xys))), fmtF(hi)})
			f.dashed[s] = isDashed(s)
			if err := f.addSeries(pl, s, xys); err != nil {
				return nil, Table{}, "", err
			}
		}
		f.panels = append(f.panels, pl)
	}
	return f, tab, "", nil
}

// sortedByFirst keeps the first-seen order of names, which for disk
// profiles in a sweep is the order the config lists them.
func sortedByFirst(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
