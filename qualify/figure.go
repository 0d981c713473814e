package qualify

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/adrbench/adrbench/plots"
)

// Colours the figures share: a failing limit is red, a warning limit
// amber, the measured p99 blue. Functions, not package variables, so no
// caller can repaint another's figure.
func colFail() color.Color  { return color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff} }
func colWarn() color.Color  { return color.RGBA{R: 0xe0, G: 0x8a, B: 0x00, A: 0xff} }
func colP99() color.Color   { return color.RGBA{R: 0x15, G: 0x65, B: 0xc0, A: 0xff} }
func colFill() color.Color  { return color.RGBA{R: 0xb0, G: 0xbe, B: 0xc5, A: 0xff} }
func colLine() color.Color  { return color.RGBA{R: 0x37, G: 0x47, B: 0x4f, A: 0xff} }
func colMedia() color.Color { return color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff} }
func colFio() color.Color   { return color.RGBA{R: 0x8e, G: 0x24, B: 0xaa, A: 0xff} }

// figure is one drawn figure of a report.
type figure struct {
	// Heading is what the report puts above the figure; Title is drawn
	// in it.
	Name, Heading, Title, Caption string
	Files                         []string // PNG first, then SVG
}

// latencyFigureChecks are the checks whose histograms are drawn against
// their thresholds, in the order the report shows them.
func latencyFigureChecks() []string {
	return []string{"disk.wal_fdatasync_p99", "disk.wal8k_fdatasync_p99", "disk.commit_p99"}
}

// drawReportFigures draws the latency distribution of every disk
// histogram against its check's threshold.
func drawReportFigures(dir string, rep *Report) ([]figure, error) {
	var figs []figure
	for _, name := range latencyFigureChecks() {
		c, ok := rep.Check(name)
		if !ok {
			continue
		}
		for _, h := range rep.Histograms {
			if h.Check != name || h.h == nil || h.h.TotalCount() == 0 {
				continue
			}
			var overlay *Histogram
			if name == "disk.wal_fdatasync_p99" {
				if i := slices.IndexFunc(rep.Histograms, func(o Histogram) bool { return o.Check == "disk.fio_wal_fdatasync_p99" && o.h != nil }); i >= 0 {
					overlay = &rep.Histograms[i]
				}
			}
			p, err := latencyPlot(h, c, overlay)
			if err != nil {
				return figs, err
			}
			files, err := savePlot(p, dir, h.Name, 8*vg.Inch, 4.2*vg.Inch)
			if err != nil {
				return figs, err
			}
			figs = append(figs, figure{Name: h.Name, Heading: "Latency distribution: " + h.Title, Title: p.Title.Text, Files: files,
				Caption: fmt.Sprintf("Share of %d operations by latency (log scale), with the profile's threshold (%s) and the measured p99.", h.h.TotalCount(), c.Source)})
		}
	}
	return figs, nil
}

// logBins spreads a histogram (ns) over bins 1/20 of a decade wide and
// returns each bin's lower edge in ms and its share of the operations in
// percent, as the points of a step line.
func logBins(h *hdrhistogram.Histogram) plotter.XYs {
	const perDecade = 20
	total := float64(h.TotalCount())
	lo := math.Floor(math.Log10(float64(max(h.Min(), 1)))*perDecade) / perDecade
	hi := math.Ceil(math.Log10(float64(max(h.Max(), 1)))*perDecade)/perDecade + 1.0/perDecade
	n := int(math.Round((hi-lo)*perDecade)) + 1
	counts := make([]float64, n)
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		mid := math.Log10(float64(max((b.From+b.To)/2, 1)))
		i := min(max(int((mid-lo)*perDecade), 0), n-1)
		counts[i] += float64(b.Count)
	}
	xys := make(plotter.XYs, 0, n+1)
	for i := range n {
		xys = append(xys, plotter.XY{X: math.Pow(10, lo+float64(i)/perDecade) / 1e6, Y: 100 * counts[i] / total})
	}
	// A last point closes the last bin's step.
	xys = append(xys, plotter.XY{X: math.Pow(10, lo+float64(n)/perDecade) / 1e6, Y: 0})
	return xys
}

// latencyPlot draws h's distribution with c's threshold lines and p99,
// and overlay's distribution (fio's, for the WAL pattern) as a line.
func latencyPlot(h Histogram, c Check, overlay *Histogram) (*plot.Plot, error) {
	xys := logBins(h.h)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: p99 %s ms, %s", c.Name, formatNumber(ms(h.h.ValueAtQuantile(99))), verdictWord(c.Verdict))
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "share of operations (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = msTicks{}
	p.Y.Min = 0
	p.Y.Tick.Marker = shareTicks{}
	p.Add(plotter.NewGrid())
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("figure %s: %w", h.Name, err)
	}
	l.StepStyle = plotter.PostStep
	l.FillColor = colFill()
	l.LineStyle = draw.LineStyle{Color: colLine(), Width: vg.Points(1)}
	p.Add(l)
	p.Legend.Add(h.Title, l)

	ymax := 0.0
	for _, xy := range xys {
		ymax = max(ymax, xy.Y)
	}
	xmin, xmax := xys[0].X, xys[len(xys)-1].X
	if overlay != nil && overlay.h.TotalCount() > 0 {
		oxys := logBins(overlay.h)
		ol, err := plotter.NewLine(oxys)
		if err != nil {
			return nil, fmt.Errorf("figure %s: %w", overlay.Name, err)
		}
		ol.StepStyle = plotter.PostStep
		ol.LineStyle = draw.LineStyle{Color: colFio(), Width: vg.Points(1.6)}
		p.Add(ol)
		p.Legend.Add(fmt.Sprintf("%s: p99 %s ms", overlay.Title, formatNumber(ms(overlay.h.ValueAtQuantile(99)))), ol)
		for _, xy := range oxys {
			ymax = max(ymax, xy.Y)
		}
		xmin, xmax = min(xmin, oxys[0].X), max(xmax, oxys[len(oxys)-1].X)
	}
	// The lines stop a little above the tallest bar; the band above them
	// holds the legend, so nothing is drawn through its text.
	ymax *= 1.1
	p.Y.Max = ymax * (1.15 + 0.09*float64(3+boolInt(overlay != nil)+boolInt(c.WarnThreshold != nil)))
	vline := func(x float64, col color.Color, dashed bool, label string) error {
		v, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
		if err != nil {
			return err
		}
		v.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(2.2)}
		if dashed {
			v.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(v)
		p.Legend.Add(label, v)
		xmin, xmax = min(xmin, x), max(xmax, x)
		return nil
	}
	if c.Unit == "ms" && c.Severity != "" {
		label := fmt.Sprintf("%s threshold: p99 < %s ms", c.Severity, formatNumber(c.Threshold))
		col := colFail()
		if c.Severity == Warn {
			col = colWarn()
		}
		if err := vline(c.Threshold, col, false, label); err != nil {
			return nil, err
		}
		if c.WarnThreshold != nil {
			if err := vline(*c.WarnThreshold, colWarn(), false, fmt.Sprintf("warn threshold: p99 < %s ms", formatNumber(*c.WarnThreshold))); err != nil {
				return nil, err
			}
		}
	}
	p99Label := "measured p99 "
	if overlay != nil {
		p99Label = "measured p99 (Go) "
	}
	if err := vline(ms(h.h.ValueAtQuantile(99)), colP99(), true, p99Label+formatNumber(ms(h.h.ValueAtQuantile(99)))+" ms"); err != nil {
		return nil, err
	}
	p.X.Min, p.X.Max = xmin/1.3, xmax*1.3
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.ThumbnailWidth = vg.Points(22)
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func verdictWord(v Verdict) string {
	switch v {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	}
	return "skipped"
}

// msTicks label every power of ten and, between them, 2 and 5 times it,
// so that a threshold such as 10 or 25 ms can be read off the axis.
type msTicks struct{}

func (msTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		for m := 3.0; m < 10; m++ {
			if v := m * math.Pow(10, e); v >= lo && v <= hi && m != 5 {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

// shareTicks label a linear axis from 0 in steps of 1, 2 or 5 times a
// power of ten, about five labels, without trailing zeros.
type shareTicks struct{}

func (shareTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)})
	}
	return ts
}

// savePlot writes p as dir/name.png and dir/name.svg, on white.
func savePlot(p *plot.Plot, dir, name string, w, h vg.Length) ([]string, error) {
	return plots.SaveDrawing(dir, name, w, h, func(c draw.Canvas) {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		p.Draw(c)
	})
}
