package qualify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Files of a fleet comparison's output directory.
const (
	FleetFile       = "fleet.json"
	FleetReportFile = "compare.html"
	fleetFigure     = "fleet-wal-fdatasync-p99"
)

// DefaultOutlierFactor flags a server whose figure is three times worse
// than the fleet's median.
const DefaultOutlierFactor = 3

// Fleet is several servers' qualifications side by side.
type Fleet struct {
	Servers []FleetServer `json:"servers"`
	Rows    []FleetRow    `json:"rows"`
	// Factor is how many times worse than the median a figure must be
	// to be an outlier.
	Factor   float64   `json:"outlier_factor"`
	Outliers []Outlier `json:"outliers"`
}

// FleetServer is one server's result.
type FleetServer struct {
	Name    string  `json:"name"`
	Dir     string  `json:"dir"`
	Profile string  `json:"profile"`
	Verdict Verdict `json:"verdict"`
	report  *Report
}

// FleetRow is one check across the fleet; Cells line up with Servers.
type FleetRow struct {
	Key    string      `json:"check"`
	Unit   string      `json:"unit"`
	Median *float64    `json:"median,omitempty"`
	Cells  []FleetCell `json:"cells"`
}

// FleetCell is one server's value of a check; Missing when its result
// has no such check.
type FleetCell struct {
	Value   float64 `json:"value"`
	Verdict Verdict `json:"verdict,omitempty"`
	Missing bool    `json:"missing,omitempty"`
	// Ratio is how many times worse than the median the value is (for
	// figures where lower is better, value/median; else median/value).
	Ratio   float64 `json:"ratio_to_median,omitempty"`
	Outlier bool    `json:"outlier,omitempty"`
}

// Outlier is a server whose figure stands out from the fleet's.
type Outlier struct {
	Server string  `json:"server"`
	Check  string  `json:"check"`
	Value  float64 `json:"value"`
	Median float64 `json:"median"`
	Ratio  float64 `json:"ratio_to_median"`
	Unit   string  `json:"unit"`
}

func (o Outlier) String() string {
	return fmt.Sprintf("%s: %s", o.Server, o.What())
}

// What says what stands out, without the server.
func (o Outlier) What() string {
	return fmt.Sprintf("%s %s, %sx worse than the fleet median (%s)", o.Check, formatValue(o.Value, o.Unit),
		formatNumber(o.Ratio), formatValue(o.Median, o.Unit))
}

// Compare reads the qualify.json of every directory and lines the checks
// up. A figure (a measured value, not a yes/no fact or a count) is an
// outlier when it is factor times worse than the median of the servers
// that have it: factor times the median for latencies, a factor-th of it
// for rates. The median needs at least three servers to mean anything;
// with fewer, nothing is flagged.
func Compare(dirs []string, factor float64) (*Fleet, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no result directories to compare", ErrConfig)
	}
	if !(factor > 1) || math.IsInf(factor, 0) {
		return nil, fmt.Errorf("%w: outlier factor %v: want a number > 1", ErrConfig, factor)
	}
	f := &Fleet{Factor: factor}
	names := map[string]int{}
	for _, d := range dirs {
		rep, err := ReadDir(d)
		if err != nil {
			return nil, err
		}
		name := rep.Host.Hostname
		if name == "" {
			name = filepath.Base(filepath.Clean(d))
		}
		names[name]++
		f.Servers = append(f.Servers, FleetServer{Name: name, Dir: d, Profile: rep.Profile, Verdict: rep.Verdict, report: rep})
	}
	// Servers sharing a hostname are told apart by their directories.
	for i := range f.Servers {
		if names[f.Servers[i].Name] > 1 {
			f.Servers[i].Name += " (" + filepath.Base(filepath.Clean(f.Servers[i].Dir)) + ")"
		}
	}
	var keys []string
	units := map[string]string{}
	for _, s := range f.Servers {
		for _, c := range s.report.Checks {
			if !slices.Contains(keys, c.Key()) {
				keys = append(keys, c.Key())
				units[c.Key()] = c.Unit
			}
		}
	}
	for _, k := range keys {
		row := FleetRow{Key: k, Unit: units[k]}
		var vals []float64
		for _, s := range f.Servers {
			c, ok := s.report.Check(k)
			if !ok {
				row.Cells = append(row.Cells, FleetCell{Missing: true})
				continue
			}
			row.Cells = append(row.Cells, FleetCell{Value: c.Value, Verdict: c.Verdict})
			if c.Verdict != Skip || c.Value != 0 {
				vals = append(vals, c.Value)
			}
		}
		name, _, _ := strings.Cut(k, "@")
		def, known := checkDefNamed(name)
		if known && comparable(def.unit) && len(vals) >= 3 {
			m := median(vals)
			row.Median = &m
			for i := range row.Cells {
				cell := &row.Cells[i]
				if cell.Missing || (cell.Verdict == Skip && cell.Value == 0) {
					continue
				}
				cell.Ratio = worseRatio(def.dir, cell.Value, m)
				if cell.Ratio >= factor {
					cell.Outlier = true
					f.Outliers = append(f.Outliers, Outlier{Server: f.Servers[i].Name, Check: k, Value: cell.Value, Median: m, Ratio: cell.Ratio, Unit: row.Unit})
				}
			}
		}
		f.Rows = append(f.Rows, row)
	}
	return f, nil
}

// comparable says whether values in unit are figures whose ratio means
// something: not yes/no facts, counts or tier ranks.
func comparable(unit string) bool {
	switch unit {
	case "bool", "count", "tier":
		return false
	}
	return true
}

// worseRatio is how many times worse v is than the median m: v/m when
// lower is better, m/v when higher is. A zero median (or value) where
// the other is not counts as infinitely worse only in the bad direction.
func worseRatio(dir direction, v, m float64) float64 {
	if dir == below {
		if m <= 0 {
			if v > 0 {
				return math.Inf(1)
			}
			return 1
		}
		return v / m
	}
	if v <= 0 {
		if m > 0 {
			return math.Inf(1)
		}
		return 1
	}
	return m / v
}

// PrintFleet writes the comparison as a table: one row per check, one
// column per server; outliers are marked with "!" and listed below.
func PrintFleet(w io.Writer, f *Fleet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"CHECK", "UNIT"}
	for _, s := range f.Servers {
		head = append(head, s.Name)
	}
	head = append(head, "MEDIAN")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	verdicts := []string{"verdict", ""}
	for _, s := range f.Servers {
		verdicts = append(verdicts, strings.ToUpper(string(s.Verdict)))
	}
	fmt.Fprintln(tw, strings.Join(append(verdicts, ""), "\t"))
	for _, r := range f.Rows {
		cols := []string{r.Key, r.Unit}
		for _, c := range r.Cells {
			cols = append(cols, cellText(c, r.Unit))
		}
		m := ""
		if r.Median != nil {
			m = formatNumber(*r.Median)
		}
		fmt.Fprintln(tw, strings.Join(append(cols, m), "\t"))
	}
	tw.Flush()
	if len(f.Outliers) == 0 {
		fmt.Fprintf(w, "\nno outliers (a figure %sx worse than the fleet median)\n", formatNumber(f.Factor))
		return
	}
	fmt.Fprintf(w, "\noutliers (a figure %sx worse than the fleet median):\n", formatNumber(f.Factor))
	for _, o := range f.Outliers {
		fmt.Fprintf(w, "  ! %s\n", o)
	}
}

func cellText(c FleetCell, unit string) string {
	if c.Missing {
		return "-"
	}
	s := formatValue(c.Value, unit)
	if unit != "bool" && unit != "count" && unit != "tier" {
		s = formatNumber(c.Value)
	}
	switch c.Verdict {
	case Fail:
		s += " FAIL"
	case Warn:
		s += " warn"
	case Skip:
		s = "skip"
	}
	if c.Outlier {
		s = "!" + s
	}
	return s
}

// WriteFleet writes fleet.json, the fdatasync p99 figure and compare.html
// into dir.
func WriteFleet(dir string, f *Fleet) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	var fig *figure
	if p := fleetPlot(f, "disk.wal_fdatasync_p99"); p != nil {
		files, err := savePlot(p, dir, fleetFigure, vg.Length(max(6, 1.1*float64(len(f.Servers))+3))*vg.Inch, 4.2*vg.Inch)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCannotRun, err)
		}
		fig = &figure{Name: fleetFigure, Title: p.Title.Text, Files: files}
	}
	if err := writeFleetHTML(filepath.Join(dir, FleetReportFile), f, fig); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	if err := os.WriteFile(filepath.Join(dir, FleetFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRun, err)
	}
	return nil
}

// fleetPlot draws one check's value per server as a stem on a log axis
// (one slow server would flatten the others on a linear one), with the
// fleet median, the outlier line (factor times the median) and the
// profile's threshold; nil when no server has a value for the check.
func fleetPlot(f *Fleet, key string) *plot.Plot {
	i := slices.IndexFunc(f.Rows, func(r FleetRow) bool { return r.Key == key })
	if i < 0 {
		return nil
	}
	row := f.Rows[i]
	var names []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for j, c := range row.Cells {
		names = append(names, f.Servers[j].Name)
		if !c.Missing && c.Value > 0 {
			lo, hi = min(lo, c.Value), max(hi, c.Value)
		}
	}
	if math.IsInf(lo, 1) {
		return nil
	}
	var threshold *Check
	for _, s := range f.Servers {
		if c, ok := s.report.Check(key); ok && c.Severity != "" {
			threshold = &c
			break
		}
	}
	if row.Median != nil && *row.Median > 0 {
		lo, hi = min(lo, *row.Median), max(hi, *row.Median*f.Factor)
	}
	if threshold != nil && threshold.Threshold > 0 {
		lo, hi = min(lo, threshold.Threshold), max(hi, threshold.Threshold)
	}
	// A decade of headroom keeps the legend above the tallest stem.
	lo, hi = lo/2, hi*10
	p := plot.New()
	p.Title.Text = key + " by server"
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = row.Unit + " (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	p.Y.Min, p.Y.Max = lo, hi
	p.Add(plotter.NewGrid())
	for j, c := range row.Cells {
		if c.Missing || !(c.Value > 0) {
			continue
		}
		col := colLine()
		if c.Outlier {
			col = colFail()
		}
		stem, err := plotter.NewLine(plotter.XYs{{X: float64(j), Y: lo}, {X: float64(j), Y: c.Value}})
		if err != nil {
			return nil
		}
		stem.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(5)}
		dot, err := plotter.NewScatter(plotter.XYs{{X: float64(j), Y: c.Value}})
		if err != nil {
			return nil
		}
		dot.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(5), Shape: draw.CircleGlyph{}}
		p.Add(stem, dot)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
	hline := func(y float64, col colorFn, dashed bool, label string) {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: y}, {X: float64(len(names)) - 0.4, Y: y}})
		if err != nil {
			return
		}
		l.LineStyle = draw.LineStyle{Color: col(), Width: vg.Points(2)}
		if dashed {
			l.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(label, l)
	}
	if row.Median != nil && *row.Median > 0 {
		hline(*row.Median, colMedia, false, "fleet median "+formatNumber(*row.Median)+" "+row.Unit)
		hline(*row.Median*f.Factor, colWarn, true, "outlier beyond "+formatNumber(f.Factor)+"x the median")
	}
	if threshold != nil && threshold.Threshold > 0 {
		hline(threshold.Threshold, colFail, false, fmt.Sprintf("%s threshold %s %s", threshold.Severity, formatNumber(threshold.Threshold), threshold.Unit))
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	return p
}

type colorFn = func() color.Color

type fleetPage struct {
	F         *Fleet
	Fig       *figure
	Rows      []fleetRowView
	Generated string
}

type fleetRowView struct {
	Key, Unit, Median string
	Cells             []fleetCellView
}

type fleetCellView struct {
	Text, Class string
}

func writeFleetHTML(path string, f *Fleet, fig *figure) error {
	pg := fleetPage{F: f, Fig: fig, Generated: time.Now().UTC().Format(time.RFC3339)}
	for _, r := range f.Rows {
		v := fleetRowView{Key: r.Key, Unit: r.Unit}
		if r.Median != nil {
			v.Median = formatNumber(*r.Median)
		}
		for _, c := range r.Cells {
			cls := string(c.Verdict)
			if c.Outlier {
				cls += " outlier"
			}
			t := cellText(c, r.Unit)
			if c.Outlier {
				t = strings.TrimPrefix(t, "!") + " (" + formatNumber(c.Ratio) + "x median)"
			}
			v.Cells = append(v.Cells, fleetCellView{Text: t, Class: cls})
		}
		pg.Rows = append(pg.Rows, v)
	}
	tmpl, err := template.New("fleet").Parse(fleetHTML)
	if err != nil {
		return fmt.Errorf("fleet template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

const fleetHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>adrbench qualify compare</title>` + pageStyle + `
<style>td.outlier{background:#fde2e2;font-weight:700;color:#a10000} td.fail{color:#a10000} td.warn{color:#8a5300} td.skip{color:#888}</style>
</head><body>
<h1>adrbench qualify: {{len .F.Servers}} servers side by side</h1>
<table><tr><th>server</th><th>verdict</th><th>profile</th><th>result directory</th></tr>
{{range .F.Servers}}<tr class="{{.Verdict}}"><td>{{.Name}}</td><td class="verdict-cell">{{.Verdict}}</td><td>{{.Profile}}</td><td><a href="{{.Dir}}/report.html">{{.Dir}}</a></td></tr>
{{end}}</table>
<h2>Outliers</h2>
{{if .F.Outliers}}<ul>{{range .F.Outliers}}<li><b>{{.Server}}</b>: {{.What}}</li>{{end}}</ul>
{{else}}<p>No server's figure is {{.F.Factor}}x worse than the fleet median.</p>{{end}}
<p class="why">A figure is an outlier when it is {{.F.Factor}}x worse than the median of the servers that have it (higher for latencies, lower for rates); yes/no facts and counts are compared by their verdicts only. Medians need at least three servers.</p>
{{if .Fig}}<h2>{{.Fig.Title}}</h2><p><img src="{{index .Fig.Files 0}}" alt="{{.Fig.Title}}"></p>{{end}}
<h2>Every check</h2>
<table><tr><th>check</th><th>unit</th>{{range .F.Servers}}<th>{{.Name}}</th>{{end}}<th>median</th></tr>
{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Unit}}</td>{{range .Cells}}<td class="num {{.Class}}">{{.Text}}</td>{{end}}<td class="num">{{.Median}}</td></tr>
{{end}}</table>
<p>Generated {{.Generated}}; data in <a href="fleet.json">fleet.json</a>.</p>
</body></html>
`
