package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is one figure of a run: drawn (Files) or skipped (Skipped says
// why), with the table of the values it plots.
type Figure struct {
	// Name is the file name stem ("throughput-vs-nodes").
	Name    string
	Title   string
	Caption string
	// Files are the files written, relative to the run directory: the
	// PNG first, then the SVG.
	Files   []string
	Skipped string
	Table   Table
}

// Table is the data behind a figure, as the report prints it.
type Table struct {
	Header []string
	Rows   [][]string
}

// canvasFig is a figure being built: panels in a grid sharing one legend.
type canvasFig struct {
	title  string
	panels []*plot.Plot
	cols   int
	// styles gives every series label its colour and marker, the same in
	// every panel, in the order the legend lists them.
	labels []string
	// dashed series (the etcd reference) are drawn with a dashed line.
	dashed map[string]bool
}

func newCanvasFig(title string, labels []string) *canvasFig {
	l := slices.Clone(labels)
	slices.Sort(l)
	l = slices.Compact(l)
	return &canvasFig{title: title, labels: l, dashed: map[string]bool{}}
}

func (f *canvasFig) style(label string) (draw.LineStyle, draw.GlyphStyle) {
	i := slices.Index(f.labels, label)
	if i < 0 {
		i = len(f.labels)
	}
	ls := draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.6)}
	if f.dashed[label] {
		ls.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	gs := draw.GlyphStyle{Color: plotutil.Color(i), Radius: vg.Points(2.8), Shape: plotutil.Shape(i)}
	return ls, gs
}

// newPanel is a plot with the house look: title, axis labels with units,
// a light grid.
func newPanel(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker = CleanTicks{}
	p.Y.Tick.Marker = CleanTicks{}
	return p
}

// CleanTicks are gonum's default ticks labelled without trailing zeros
// ("5000", not "5000.00").
type CleanTicks struct{}

func (CleanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			// Rounding drops the float noise of tick arithmetic (0.6000000000000001).
			ts[i].Label = strconv.FormatFloat(math.Round(ts[i].Value*1e6)/1e6, 'f', -1, 64)
		}
	}
	return ts
}

// addSeries draws a line with markers through xys (sorted by x by the
// caller) in label's style.
func (f *canvasFig) addSeries(p *plot.Plot, label string, xys plotter.XYs) error {
	if len(xys) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("%w: series %s: %w", ErrRender, label, err)
	}
	l.LineStyle, s.GlyphStyle = f.style(label)
	p.Add(l, s)
	return nil
}

// addLine draws a line without markers (dense series: spectra, time).
func (f *canvasFig) addLine(p *plot.Plot, label string, xys plotter.XYs) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%w: series %s: %w", ErrRender, label, err)
	}
	l.LineStyle, _ = f.style(label)
	p.Add(l)
	return nil
}

const (
	panelW = 5 * vg.Inch
	panelH = 3.4 * vg.Inch
	titleH = 0.45 * vg.Inch
)

// legendW fits the longest label at the legend's 10 pt (about 5.5 pt a
// character) beside its thumbnail.
func (f *canvasFig) legendW() vg.Length {
	n := 0
	for _, l := range f.labels {
		n = max(n, len([]rune(l)))
	}
	return max(1.5*vg.Inch, vg.Points(46+5.5*float64(n)))
}

func (f *canvasFig) size() (vg.Length, vg.Length) {
	cols := max(1, min(f.cols, len(f.panels)))
	rows := (len(f.panels) + cols - 1) / cols
	return vg.Length(cols)*panelW + f.legendW(), vg.Length(rows)*panelH + titleH
}

func (f *canvasFig) draw(c draw.Canvas) {
	legendW := f.legendW()
	cols := max(1, min(f.cols, len(f.panels)))
	rows := (len(f.panels) + cols - 1) / cols
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())

	ts := draw.TextStyle{
		Color: color.Black, Font: font.From(plot.DefaultFont, vg.Points(15)),
		XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler,
	}
	area := c.Rectangle
	c.FillText(ts, vg.Point{X: (area.Min.X + area.Max.X - legendW) / 2, Y: area.Max.Y - titleH/2}, f.title)

	grid := make([][]*plot.Plot, rows)
	for r := range rows {
		grid[r] = make([]*plot.Plot, cols)
		for col := range cols {
			if i := r*cols + col; i < len(f.panels) {
				grid[r][col] = f.panels[i]
			}
		}
	}
	main := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: area.Min, Max: vg.Point{X: area.Max.X - legendW, Y: area.Max.Y - titleH}}}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(18),
		PadTop: vg.Points(4), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(8)}
	canvases := plot.Align(grid, tiles, main)
	for r := range rows {
		for col := range cols {
			if grid[r][col] != nil {
				grid[r][col].Draw(canvases[r][col])
			}
		}
	}

	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.ThumbnailWidth = vg.Points(26)
	for _, label := range f.labels {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
		if err != nil {
			continue // two finite points always make a line
		}
		s, err := plotter.NewScatter(plotter.XYs{{X: 0, Y: 0}})
		if err != nil {
			continue
		}
		l.LineStyle, s.GlyphStyle = f.style(label)
		leg.Add(label, l, s)
	}
	legC := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: area.Max.X - legendW + vg.Points(6), Y: area.Min.Y},
		Max: vg.Point{X: area.Max.X - vg.Points(4), Y: area.Max.Y - titleH - vg.Points(8)}}}
	leg.Draw(legC)
}

// save writes the figure as dir/name.png and dir/name.svg and returns the
// two file names.
func (f *canvasFig) save(dir, name string) ([]string, error) {
	w, h := f.size()
	return SaveDrawing(dir, name, w, h, f.draw)
}

// SaveDrawing draws a w×h figure with paint twice, into dir/name.png (110
// dpi) and dir/name.svg, and returns the two file names. Every figure the
// project writes, from runs, plans and qualifications, goes through it.
func SaveDrawing(dir, name string, w, h vg.Length, paint func(draw.Canvas)) ([]string, error) {
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	paint(draw.New(png))
	svg := vgsvg.New(w, h)
	paint(draw.New(svg))
	files := []string{name + ".png", name + ".svg"}
	if err := writeTo(filepath.Join(dir, files[0]), vgimg.PngCanvas{Canvas: png}.WriteTo); err != nil {
		return nil, err
	}
	if err := writeTo(filepath.Join(dir, files[1]), svg.WriteTo); err != nil {
		return nil, err
	}
	return files, nil
}

func writeTo(path string, write func(io.Writer) (int64, error)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRender, err)
	}
	if _, err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %w", ErrRender, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRender, path, err)
	}
	return nil
}

// nodeTicks marks exactly the cluster sizes measured.
func nodeTicks(sizes []int) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, n := range sizes {
		t = append(t, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	return t
}

// percentileTicks labels a 1/(1-q) axis with the percentiles people quote.
func percentileTicks(maxX float64) plot.ConstantTicks {
	t := plot.ConstantTicks{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
	labels := []string{"90%", "99%", "99.9%", "99.99%", "99.999%"}
	for i, l := range labels {
		v := math.Pow(10, float64(i+1))
		if v > maxX*1.001 {
			break
		}
		t = append(t, plot.Tick{Value: v, Label: l})
	}
	return t
}
