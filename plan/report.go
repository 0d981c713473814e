package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"
)

// ReportFile is the HTML report of a plan directory.
const ReportFile = "report.html"

// headlineRows is how many rows the headline table shows.
const headlineRows = 8

// WriteReport writes dir/report.html for pf: the answer first, then a
// short headline table, the timing advice, the figures, every point, and
// only then what the plan was made from (config is shown as it is).
func WriteReport(dir string, pf *PlanFile, figs []Figure, v *Validation, config any) error {
	d := reportData{PF: pf, Answer: pf.Answer(), Figures: figs, Generated: time.Now().UTC().Format(time.RFC3339), V: v}
	d.Header = []string{"#", "target", "backend", "nodes", "RTT (ms)", "disk", "cores/member", "clients/conns",
		"value (B)", "max writes/s", "low", "high", "p99 at max (ms)", "bottleneck", "extrapolated", "note"}
	rows := func(idx []int) [][]string {
		var out [][]string
		for _, i := range idx {
			out = append(out, planRow(i, pf.Points[i]))
		}
		return out
	}
	all := make([]int, len(pf.Points))
	for i := range all {
		all[i] = i
	}
	d.Rows = rows(all)
	switch {
	case len(pf.Meets) > 0:
		d.HeadTitle = fmt.Sprintf("Configurations that take %.0f writes/s, smallest and cheapest first", pf.NeedWrites)
		d.Head = rows(pf.Meets[:min(headlineRows, len(pf.Meets))])
	case len(pf.Nearest) > 0:
		d.HeadTitle = fmt.Sprintf("None takes %.0f writes/s; the nearest", pf.NeedWrites)
		d.Head = rows(pf.Nearest)
	default:
		d.HeadTitle = "Highest capacity first"
		sorted := append([]int(nil), all...)
		sortByCapacity(pf.Points, sorted)
		d.Head = rows(sorted[:min(headlineRows, len(sorted))])
	}
	if config != nil {
		b, err := json.MarshalIndent(config, "", "  ")
		if err == nil {
			d.Config = string(b)
		}
	}
	var buf bytes.Buffer
	tmpl, err := template.New("report").Funcs(template.FuncMap{"pct": func(v float64) float64 { return 100 * v }}).Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("%w: report template: %w", ErrRunDir, err)
	}
	if err := tmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("%w: report: %w", ErrRunDir, err)
	}
	return writeAtomic(filepath.Join(dir, ReportFile), buf.Bytes())
}

type reportData struct {
	PF        *PlanFile
	Answer    string
	HeadTitle string
	Head      [][]string
	Header    []string
	Rows      [][]string
	Figures   []Figure
	V         *Validation
	Config    string
	Generated string
}

func sortByCapacity(points []PlanPoint, idx []int) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && points[idx[j]].MaxWritesS > points[idx[j-1]].MaxWritesS; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func planRow(i int, p PlanPoint) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	cores := "shared"
	if p.CoresPerMember > 0 {
		cores = strconv.Itoa(p.CoresPerMember)
	}
	ext := ""
	if p.Extrapolated {
		ext = "yes"
		if len(p.Why) > 0 {
			ext += ": " + joinShort(p.Why)
		}
	}
	return []string{strconv.Itoa(i), p.Target, p.Backend, strconv.Itoa(p.Nodes), f(2 * p.NetDelayMs), p.DiskProfile, cores,
		fmt.Sprintf("%d/%d", p.Clients, p.Conns), strconv.Itoa(p.ValSize), fmt.Sprintf("%.0f", p.MaxWritesS),
		fmt.Sprintf("%.0f", p.Low), fmt.Sprintf("%.0f", p.High), fmt.Sprintf("%.2f", p.P99MsAtMax), p.Bottleneck, ext, p.Note}
}

func joinShort(v []string) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}

// PrintPlan prints a plan's answer and table for a terminal or a pipe.
func PrintPlan(w io.Writer, pf *PlanFile) {
	fmt.Fprintln(w, pf.Answer())
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tbackend\tnodes\tRTT ms\tdisk\tcores\tmax writes/s\tlow-high\tp99 ms\tbottleneck\textrapolated\t")
	order := make([]int, len(pf.Points))
	for i := range order {
		order[i] = i
	}
	if len(pf.Meets) > 0 {
		order = pf.Meets
	} else if len(pf.Nearest) > 0 {
		order = pf.Nearest
	}
	for _, i := range order {
		p := pf.Points[i]
		cores := "shared"
		if p.CoresPerMember > 0 {
			cores = strconv.Itoa(p.CoresPerMember)
		}
		ext := ""
		if p.Extrapolated {
			ext = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%g\t%s\t%s\t%.0f\t%.0f-%.0f\t%.2f\t%s\t%s\t\n", i, p.Backend, p.Nodes, 2*p.NetDelayMs,
			p.DiskProfile, cores, p.MaxWritesS, p.Low, p.High, p.P99MsAtMax, p.Bottleneck, ext)
	}
	tw.Flush()
	if len(pf.Meets) > 0 && len(pf.Meets) < len(pf.Points) {
		fmt.Fprintf(w, "(%d more configurations do not meet %.0f writes/s; see plan.json)\n", len(pf.Points)-len(pf.Meets), pf.NeedWrites)
	}
	if len(pf.Timeouts) > 0 {
		fmt.Fprintln(w, "\nRecommended raft timing (etcd's rule: heartbeat about one RTT, election timeout >= 10 RTT, <= 50 s):")
		for _, t := range pf.Timeouts {
			fmt.Fprintf(w, "  RTT %g ms: --heartbeat-interval %g --election-timeout %g", t.RTTMs, t.HeartbeatIntervalMs, t.ElectionTimeoutMs)
			if t.Note != "" {
				fmt.Fprintf(w, " (%s)", t.Note)
			}
			fmt.Fprintln(w)
		}
	}
	if pf.Validation != nil {
		fmt.Fprintf(w, "\nModel error at capacity on this machine: median %.0f%%, worst %.0f%% over %d points.\n",
			100*pf.Validation.Median, 100*pf.Validation.Worst, pf.Validation.N)
	}
}

// PrintValidation prints a validation's error table and summary.
func PrintValidation(w io.Writer, v *Validation) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "point\tmeasured/s\tpredicted/s\terror\tp99 ms meas\tp99 ms model\tCPU us/write meas\tmodel\tat capacity\tbottleneck\tnote\t")
	for _, p := range v.Points {
		if p.Skipped != "" {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\t\t\tskipped: %s\t\n", p.Label, p.Skipped)
			continue
		}
		var notes []string
		if p.InCalibration {
			notes = append(notes, "configuration used in calibration")
		}
		if len(p.Extrapolated) > 0 {
			notes = append(notes, "extrapolated")
		}
		capTag := ""
		if p.AtCapacity {
			capTag = "yes"
		}
		cpuM, cpuP := "", ""
		if p.MeasuredCPU > 0 {
			cpuM, cpuP = fmt.Sprintf("%.0f", p.MeasuredCPU), fmt.Sprintf("%.0f", p.PredictedCPU)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%+.0f%%\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", p.Label, p.Measured, p.Predicted, 100*p.Error,
			p.MeasuredP99, p.PredictedP99, cpuM, cpuP, capTag, p.Bottleneck, joinShort(notes))
	}
	tw.Flush()
	s := v.AtCapacity
	fmt.Fprintf(w, "\nAt capacity, configurations not used in calibration: %d points, median |error| %.1f%%, worst %.1f%%, median error %+.1f%%; within 15%%: %d, 25%%: %d, 30%%: %d\n",
		s.N, 100*s.Median, 100*s.Worst, 100*s.Bias, s.Within15, s.Within25, s.Within30)
	a := v.All
	fmt.Fprintf(w, "All points predicted: %d, median |error| %.1f%%, worst %.1f%%, median error %+.1f%%\n", a.N, 100*a.Median, 100*a.Worst, 100*a.Bias)
	if c := v.CPUPerWrite; c.N > 0 {
		fmt.Fprintf(w, "CPU per write (inproc points; independent of what other work took): %d points, median |error| %.1f%%, worst %.1f%%, median error %+.1f%%\n",
			c.N, 100*c.Median, 100*c.Worst, 100*c.Bias)
	}
}

// WriteValidation saves v as dir/validation.json.
func WriteValidation(dir string, v *Validation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	return writeAtomic(filepath.Join(dir, ValidationFile), append(b, '\n'))
}

// ReadValidation reads dir/validation.json; (nil, nil) when there is none.
func ReadValidation(dir string) (*Validation, error) {
	b, err := os.ReadFile(filepath.Join(dir, ValidationFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRunDir, err)
	}
	var v Validation
	if err := json.Unmarshal(b, &v); err != nil || v.Schema != ValidationSchema {
		return nil, fmt.Errorf("%w: %s is not a %s file", ErrRunDir, filepath.Join(dir, ValidationFile), ValidationSchema)
	}
	return &v, nil
}

const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>adrbench plan: {{.PF.Kind}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.answer{font-size:1.25em;background:#eef6ee;border-left:5px solid #2a7a2a;padding:.6em 1em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3} td:nth-child(-n+3){text-align:left}
img{max-width:100%;border:1px solid #ddd} pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.4em .8em;margin:.4em 0} .skip{color:#777;font-style:italic}
</style></head><body>
<h1>Capacity plan ({{.PF.Kind}})</h1>
<p class="answer">{{.Answer}}</p>
<h2>{{.HeadTitle}}</h2>
<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Head}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if eq .PF.Kind "predicted"}}<p class="note">Every figure of this report is predicted by the model calibrated in <code>{{.PF.Calibration}}</code>, not measured.
{{if .PF.Validation}}Its error at capacity on the calibration machine: median {{printf "%.0f" (pct .PF.Validation.Median)}}%, worst {{printf "%.0f" (pct .PF.Validation.Worst)}}% over {{.PF.Validation.N}} measured points.{{else}}The calibration has not been validated against measurements.{{end}}
Configurations marked extrapolated lie outside what was calibrated.</p>{{end}}
{{range .PF.Notes}}<p class="note">{{.}}</p>{{end}}
{{if .PF.Timeouts}}<h2>Recommended raft timing</h2>
<p>etcd's tuning rule: a heartbeat of about one round trip (0.5–1.5×), an election timeout of at least ten round trips, at most 50 s.</p>
<table><tr><th>RTT (ms)</th><th>--heartbeat-interval (ms)</th><th>--election-timeout (ms)</th><th>note</th></tr>
{{range .PF.Timeouts}}<tr><td>{{.RTTMs}}</td><td>{{.HeartbeatIntervalMs}}</td><td>{{.ElectionTimeoutMs}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{end}}
{{if .Figures}}<h2>Figures</h2>
{{range .Figures}}<h3>{{.Title}}</h3>
{{if .Skipped}}<p class="skip">Not drawn: {{.Skipped}}.</p>{{else}}<p>{{.Caption}}</p><p><img src="{{index .Files 0}}" alt="{{.Title}}"></p>{{end}}
{{end}}{{end}}
<h2>Every configuration</h2>
<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Config}}<h2>What the plan was made from</h2><pre>{{.Config}}</pre>{{end}}
<p>Generated {{.Generated}}; the data is in <code>plan.json</code> (schema {{.PF.Schema}}).</p>
</body></html>
`
