package plan

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/adrbench/adrbench/plots"
)

// Figure names of a predicted plan, which are their files' stems.
const (
	FigCapacityRTT = "capacity-vs-rtt"
	FigHeatmap     = "disk-rtt-heatmap"
	FigValidation  = "predicted-vs-measured"
)

// Figure is one figure drawn (Files: PNG then SVG) or skipped (Skipped
// says why).
type Figure struct {
	Name    string
	Title   string
	Caption string
	Files   []string
	Skipped string
}

// DrawFigures draws a predicted plan's figures into dir; v, when not nil,
// is the calibration's validation, for the predicted-against-measured
// figure.
func DrawFigures(dir string, pf *PlanFile, v *Validation) []Figure {
	figs := []Figure{
		capacityRTT(dir, pf),
		heatmap(dir, pf),
		validationFig(dir, v),
	}
	return figs
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.Add(plotter.NewGrid())
	// Capacity lines run high in their panels: the legend goes below.
	p.Legend.Top, p.Legend.Left = false, false
	p.X.Tick.Marker, p.Y.Tick.Marker = plots.CleanTicks{}, plots.CleanTicks{}
	return p
}

// save writes p (or a grid of panels) as name.png and name.svg.
func saveGrid(dir, name string, panels []*plot.Plot, cols int) ([]string, error) {
	rows := (len(panels) + cols - 1) / cols
	w, h := vg.Length(cols)*5*vg.Inch, vg.Length(rows)*3.6*vg.Inch
	drawAll := func(c draw.Canvas) {
		grid := make([][]*plot.Plot, rows)
		for r := range rows {
			grid[r] = make([]*plot.Plot, cols)
			for col := range cols {
				if i := r*cols + col; i < len(panels) {
					grid[r][col] = panels[i]
				}
			}
		}
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(14),
			PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
		canvases := plot.Align(grid, tiles, c)
		for r := range rows {
			for col := range cols {
				if grid[r][col] != nil {
					grid[r][col].Draw(canvases[r][col])
				}
			}
		}
	}
	files, err := plots.SaveDrawing(dir, name, w, h, drawAll)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return files, nil
}

// panelKey groups a plan's points into panels by backend and disk.
type panelKey struct{ backend, disk string }

func panelsOf(pf *PlanFile) []panelKey {
	var keys []panelKey
	for _, p := range pf.Points {
		k := panelKey{p.Backend, p.DiskProfile}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

const maxPanels = 12

func capacityRTT(dir string, pf *PlanFile) Figure {
	f := Figure{Name: FigCapacityRTT, Title: "Capacity at the objective against round-trip time",
		Caption: fmt.Sprintf("Predicted writes/s sustained with p99 <= %g ms, against the round trip between members (twice the one-way delay); one line per cluster size, one panel per log backend and disk. Open rings mark extrapolated configurations.", pf.SLO.P99Ms)}
	rtts := map[float64]bool{}
	for _, p := range pf.Points {
		rtts[2*p.NetDelayMs] = true
	}
	if len(rtts) < 2 {
		f.Skipped = "the plan has a single round-trip time; give --net-delay several values"
		return f
	}
	keys := panelsOf(pf)
	if len(keys) > maxPanels {
		keys = keys[:maxPanels]
	}
	var panels []*plot.Plot
	for _, k := range keys {
		p := newPlot(fmt.Sprintf("%s, disk %s", k.backend, k.disk), "round trip (ms)", "writes/s at the objective")
		var nodes []int
		for _, pt := range pf.Points {
			if pt.Backend == k.backend && pt.DiskProfile == k.disk && !slices.Contains(nodes, pt.Nodes) {
				nodes = append(nodes, pt.Nodes)
			}
		}
		slices.Sort(nodes)
		for i, n := range nodes {
			var xys, extra plotter.XYs
			for _, pt := range pf.Points {
				if pt.Backend == k.backend && pt.DiskProfile == k.disk && pt.Nodes == n {
					xy := plotter.XY{X: 2 * pt.NetDelayMs, Y: pt.MaxWritesS}
					xys = append(xys, xy)
					if pt.Extrapolated {
						extra = append(extra, xy)
					}
				}
			}
			slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				f.Skipped = err.Error()
				return f
			}
			l.Color, s.Color, s.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
			p.Add(l, s)
			p.Legend.Add(fmt.Sprintf("%d members", n), l, s)
			if len(extra) > 0 {
				ring, err := plotter.NewScatter(extra)
				if err == nil {
					ring.Shape, ring.Color, ring.Radius = draw.RingGlyph{}, color.Black, vg.Points(6)
					p.Add(ring)
				}
			}
		}
		p.Y.Min = 0
		panels = append(panels, p)
	}
	files, err := saveGrid(dir, f.Name, panels, min(2, len(panels)))
	if err != nil {
		f.Skipped = err.Error()
		return f
	}
	f.Files = files
	return f
}

// grid is a heat map's cells: capacity by RTT (x) and disk (y).
type grid struct {
	xs, ys []string
	v      [][]float64 // [y][x]
}

func (g grid) Dims() (c, r int)   { return len(g.xs), len(g.ys) }
func (g grid) Z(c, r int) float64 { return g.v[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Min() float64       { return minMax(g.v, math.Min, math.Inf(1)) }
func (g grid) Max() float64       { return minMax(g.v, math.Max, math.Inf(-1)) }
func minMax(v [][]float64, f func(a, b float64) float64, init float64) float64 {
	for _, row := range v {
		for _, x := range row {
			if !math.IsNaN(x) {
				init = f(init, x)
			}
		}
	}
	return init
}

func heatmap(dir string, pf *PlanFile) Figure {
	f := Figure{Name: FigHeatmap, Title: "Capacity by disk and round-trip time",
		Caption: fmt.Sprintf("Predicted writes/s sustained with p99 <= %g ms, one panel per log backend and cluster size, coloured from the panel's lowest (blue) to its highest (red); a cell marked * is extrapolated.", pf.SLO.P99Ms)}
	var disks []string
	var rtts []float64
	type pk struct {
		backend string
		nodes   int
	}
	var keys []pk
	for _, p := range pf.Points {
		if !slices.Contains(disks, p.DiskProfile) {
			disks = append(disks, p.DiskProfile)
		}
		if !slices.Contains(rtts, 2*p.NetDelayMs) {
			rtts = append(rtts, 2*p.NetDelayMs)
		}
		if k := (pk{p.Backend, p.Nodes}); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(disks) < 2 && len(rtts) < 2 {
		f.Skipped = "the plan has one disk profile and one round-trip time; give several"
		return f
	}
	slices.Sort(rtts)
	if len(keys) > maxPanels {
		keys = keys[:maxPanels]
	}
	var panels []*plot.Plot
	for _, k := range keys {
		g := grid{v: make([][]float64, len(disks))}
		for _, r := range rtts {
			g.xs = append(g.xs, strconv.FormatFloat(r, 'g', 4, 64))
		}
		g.ys = disks
		var labels plotter.XYLabels
		for yi, d := range disks {
			g.v[yi] = make([]float64, len(rtts))
			for xi, r := range rtts {
				g.v[yi][xi] = math.NaN()
				for _, p := range pf.Points {
					if p.Backend == k.backend && p.Nodes == k.nodes && p.DiskProfile == d && 2*p.NetDelayMs == r {
						g.v[yi][xi] = p.MaxWritesS
						txt := strconv.FormatFloat(p.MaxWritesS, 'f', 0, 64)
						if p.Extrapolated {
							txt += "*"
						}
						labels.XYs = append(labels.XYs, plotter.XY{X: float64(xi), Y: float64(yi)})
						labels.Labels = append(labels.Labels, txt)
					}
				}
			}
		}
		p := newPlot(fmt.Sprintf("%s, %d members", k.backend, k.nodes), "round trip (ms)", "disk")
		hm := plotter.NewHeatMap(g, moreland.SmoothBlueRed().Palette(64))
		if g.Min() == g.Max() {
			hm.Min, hm.Max = g.Min()-1, g.Max()+1
		}
		p.Add(hm)
		if lb, err := plotter.NewLabels(labels); err == nil {
			for i := range lb.TextStyle {
				lb.TextStyle[i].XAlign, lb.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			}
			p.Add(lb)
		}
		p.X.Tick.Marker = indexTicks(g.xs)
		p.Y.Tick.Marker = indexTicks(g.ys)
		panels = append(panels, p)
	}
	files, err := saveGrid(dir, f.Name, panels, min(2, len(panels)))
	if err != nil {
		f.Skipped = err.Error()
		return f
	}
	f.Files = files
	return f
}

func indexTicks(names []string) plot.ConstantTicks {
	var t plot.ConstantTicks
	for i, n := range names {
		t = append(t, plot.Tick{Value: float64(i), Label: n})
	}
	return t
}

func validationFig(dir string, v *Validation) Figure {
	f := Figure{Name: FigValidation, Title: "Predicted against measured",
		Caption: "Each measured point of the validation runs against the model's prediction for it (throughput, writes/s). The solid line is equality, the dashed lines ±25%; filled markers are points at capacity."}
	if v == nil {
		f.Skipped = "the calibration has not been validated (run `adrbench plan validate --calibration DIR RUN_DIR...`)"
		return f
	}
	var atCap, other plotter.XYs
	hi := 0.0
	for _, p := range v.Points {
		if p.Skipped != "" || p.Measured <= 0 || p.Predicted <= 0 {
			continue
		}
		xy := plotter.XY{X: p.Measured, Y: p.Predicted}
		hi = math.Max(hi, math.Max(p.Measured, p.Predicted))
		if p.AtCapacity {
			atCap = append(atCap, xy)
		} else {
			other = append(other, xy)
		}
	}
	if len(atCap)+len(other) == 0 {
		f.Skipped = "the validation has no predicted point"
		return f
	}
	p := newPlot("Throughput: model against measurement", "measured writes/s", "predicted writes/s")
	hi *= 1.05
	for i, k := range []float64{1, 0.75, 1.25} {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: hi, Y: hi * k}})
		if err != nil {
			continue
		}
		if i > 0 {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
	}
	if len(atCap) > 0 {
		s, err := plotter.NewScatter(atCap)
		if err == nil {
			s.Shape, s.Color = draw.CircleGlyph{}, plotutil.Color(0)
			p.Add(s)
			p.Legend.Add("at capacity", s)
		}
	}
	if len(other) > 0 {
		s, err := plotter.NewScatter(other)
		if err == nil {
			s.Shape, s.Color = draw.RingGlyph{}, plotutil.Color(1)
			p.Add(s)
			p.Legend.Add("below capacity", s)
		}
	}
	p.X.Min, p.Y.Min, p.X.Max, p.Y.Max = 0, 0, hi, hi
	p.Legend.Top, p.Legend.Left = true, true
	files, err := saveGrid(dir, f.Name, []*plot.Plot{p}, 1)
	if err != nil {
		f.Skipped = err.Error()
		return f
	}
	f.Files = files
	return f
}
