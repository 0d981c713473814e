package plots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/adrbench/adrbench/results"
)

// sweepRecord is the part of run.json's config a sweep writes that the
// report shows; runs made by other commands simply lack it.
type sweepRecord struct {
	SweepYAML string   `json:"sweep_yaml"`
	Quick     bool     `json:"quick"`
	Notes     []string `json:"notes"`
	Failed    []string `json:"failed"`
	Planned   int      `json:"planned_points"`
}

type reportData struct {
	Run       *results.Run
	Rec       sweepRecord
	Config    string
	Figures   []Figure
	Header    []string
	Rows      [][]string
	Generated string
	Labels    []string // the runs' labels explained
	// Headline is the short answer the report opens with: the highest
	// throughput of each backend at each cluster size, closed loop.
	HeadHeader []string
	HeadRows   [][]string
}

func writeReport(path string, run *results.Run, figs []Figure) error {
	d := reportData{Run: run, Figures: figs, Generated: time.Now().UTC().Format(time.RFC3339)}
	if len(run.Config) > 0 {
		_ = json.Unmarshal(run.Config, &d.Rec) // absent fields stay empty
		if d.Rec.SweepYAML != "" {
			d.Config = d.Rec.SweepYAML
		} else {
			var buf bytes.Buffer
			if json.Indent(&buf, run.Config, "", "  ") == nil {
				d.Config = buf.String()
			}
		}
	}
	d.Header, d.Rows = pointsTable(run)
	d.HeadHeader, d.HeadRows = headline(run)
	unsafe, emulated := map[string]bool{}, map[string]bool{}
	for _, p := range run.Points {
		if p.Unsafe != "" && !unsafe[p.Unsafe] {
			unsafe[p.Unsafe] = true
			d.Labels = append(d.Labels, "unsafe ("+p.Backend+"): "+p.Unsafe)
		}
		for _, e := range p.Emulated {
			if !emulated[e] {
				emulated[e] = true
				d.Labels = append(d.Labels, "emulated: "+e)
			}
		}
	}
	var buf bytes.Buffer
	tmpl, err := template.New("report").Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("%w: report template: %w", ErrRender, err) // a bug, caught by the tests
	}
	if err := tmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRender, path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrRender, err)
	}
	return nil
}

// headlineRows bounds the headline table: an answer, not the data.
const headlineRows = 12

// headline is, for each target and backend and cluster size, the closed-loop
// point with the highest throughput (disk, delay and clients named), most
// throughput first: the few lines a reader wants before the details.
func headline(run *results.Run) ([]string, [][]string) {
	header := []string{"target", "backend", "nodes", "disk", "net delay (ms)", "clients", "throughput (ops/s)", "p99 (ms)"}
	best := map[string]*results.Point{}
	var order []string
	for i := range run.Points {
		p := &run.Points[i]
		if p.Mode != results.ModeClosed {
			continue
		}
		k := p.Target + "|" + p.Backend + "|" + strconv.Itoa(p.Nodes)
		if b, ok := best[k]; !ok || p.Throughput > b.Throughput {
			if !ok {
				order = append(order, k)
			}
			best[k] = p
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return best[order[i]].Throughput > best[order[j]].Throughput })
	var rows [][]string
	for _, k := range order[:min(headlineRows, len(order))] {
		p := best[k]
		backend := p.Backend
		if p.Unsafe != "" {
			backend += " (unsafe)"
		}
		rows = append(rows, []string{p.Target, backend, strconv.Itoa(p.Nodes), p.DiskProfile, fmtF(p.NetDelayMs),
			strconv.Itoa(p.Clients), fmtF(p.Throughput), fmtF(p.LatencyMs.P99)})
	}
	return header, rows
}

// pointsTable is every point's main fields, latency in milliseconds.
func pointsTable(run *results.Run) ([]string, [][]string) {
	header := []string{"#", "target", "backend", "labels", "nodes", "net delay (ms)", "disk", "workload", "mode",
		"clients/conns", "rate (ops/s)", "duration (s)", "ops", "errors", "throughput (ops/s)",
		"p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "max (ms)", "syncs/op", "log sync p50 (ms)"}
	var rows [][]string
	for i, p := range run.Points {
		var labels []string
		if p.Unsafe != "" {
			labels = append(labels, "UNSAFE")
		}
		if len(p.Emulated) > 0 {
			labels = append(labels, "emulated: "+strings.Join(p.Emulated, ", "))
		}
		rate, sync := "", ""
		if p.Mode == results.ModeOpen {
			rate = fmtF(p.RateOpsS)
		}
		if p.LogSyncLatencyMs != nil {
			sync = fmtF(p.LogSyncLatencyMs.P50)
		}
		l := p.LatencyMs
		rows = append(rows, []string{strconv.Itoa(i), p.Target, p.Backend, strings.Join(labels, "; "), strconv.Itoa(p.Nodes),
			fmtF(p.NetDelayMs), p.DiskProfile, p.Workload, p.Mode, fmt.Sprintf("%d/%d", p.Clients, p.Conns), rate,
			fmtF(p.DurationS), strconv.FormatInt(p.Ops, 10), strconv.FormatInt(p.Errors, 10), fmtF(p.Throughput),
			fmtF(l.P50), fmtF(l.P90), fmtF(l.P99), fmtF(l.P999), fmtF(l.Max), fmtF(p.SyncsPerOp), sync})
	}
	return header, rows
}

// reportHTML is parsed per report rather than held in a package variable:
// parsing costs far less than drawing one figure.
const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>adrbench: {{.Run.Name}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3} td:nth-child(-n+4){text-align:left}
img{max-width:100%;border:1px solid #ddd} pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.4em .8em;margin:.4em 0}
.skip{color:#777;font-style:italic} .bad{background:#fde2e2;border-left:4px solid #c00;padding:.4em .8em;margin:.4em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em} dt{font-weight:600}
</style></head><body>
<h1>adrbench run: {{.Run.Name}}</h1>
<p>Report generated {{.Generated}} from <code>run.json</code>; redraw with <code>adrbench plot RUN_DIR</code>.</p>
{{if .Rec.Quick}}<p class="note">Quick run (<code>--quick</code>): points were shortened for a smoke test; do not compare their numbers with full runs.</p>{{end}}
{{range .Rec.Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Rec.Failed}}<p class="bad">Point not measured: {{.}}</p>{{end}}
{{range .Labels}}<p class="note">{{.}}</p>{{end}}
{{if .HeadRows}}<h2>Headline</h2>
<p>The highest closed-loop throughput of each backend at each cluster size (of {{len .Run.Points}} points; all of them are below).</p>
<table id="headline"><tr>{{range .HeadHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .HeadRows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}

<h2>What was run</h2>
<dl>
<dt>started</dt><dd>{{.Run.Started.UTC.Format "2006-01-02 15:04:05 UTC"}}</dd>
<dt>git revision</dt><dd><code>{{if .Run.Git}}{{.Run.Git}}{{else}}unknown{{end}}</code></dd>
<dt>points</dt><dd>{{len .Run.Points}}{{if .Rec.Planned}} of {{.Rec.Planned}} planned{{end}}</dd>
</dl>
<h3>Host</h3>
<dl>
<dt>CPU</dt><dd>{{.Run.Host.CPU}} ({{.Run.Host.Cores}} cores)</dd>
<dt>memory</dt><dd>{{.Run.Host.MemoryBytes}} bytes</dd>
<dt>kernel</dt><dd>{{.Run.Host.Kernel}}</dd>
<dt>disk</dt><dd>{{.Run.Host.Disk}}</dd>
{{if .Run.Host.Hostname}}<dt>hostname</dt><dd>{{.Run.Host.Hostname}}</dd>{{end}}
{{if .Run.Host.GoVersion}}<dt>Go</dt><dd>{{.Run.Host.GoVersion}}</dd>{{end}}
</dl>
{{if .Config}}<h3>Effective config</h3><pre>{{.Config}}</pre>{{end}}

<h2>Figures</h2>
{{range .Figures}}
<h3 id="{{.Name}}">{{.Title}}</h3>
{{if .Skipped}}<p class="skip">Not drawn: {{.Skipped}}.</p>{{else}}
<p>{{.Caption}}</p>
<p><img src="{{index .Files 0}}" alt="{{.Title}}"></p>
<p>Files: {{range .Files}}<a href="{{.}}">{{.}}</a> {{end}}</p>
<details><summary>Data behind this figure</summary>
<table><tr>{{range .Table.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Table.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></details>
{{end}}
{{end}}

<h2>Points</h2>
<p>Latencies in milliseconds; closed-loop latency is measured from the send, open-loop from the intended send time.</p>
<table id="points"><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
</body></html>
`
