package qualify

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"strings"
	"time"
)

// checkRow is a check as the HTML and terminal tables show it.
type checkRow struct {
	Group, Name, Peer, Value, Threshold, Verdict, Text, Reason, Source string
	Emulated                                                           bool
}

func rowOf(c Check) checkRow {
	r := checkRow{Name: c.Name, Peer: c.Peer, Threshold: formatThreshold(c), Verdict: string(c.Verdict),
		Text: c.Text, Reason: c.Reason, Source: c.Source, Emulated: c.Emulated}
	r.Group, _, _ = strings.Cut(c.Name, ".")
	if c.Verdict != Skip || c.Value != 0 || c.Text != "" {
		r.Value = formatValue(c.Value, c.Unit)
	}
	if c.Verdict == Skip && c.Value == 0 && c.Unit != "count" {
		r.Value = "-"
	}
	return r
}

type reportPage struct {
	Rep       *Report
	Host      string
	Verdict   string
	Summary   string
	Failing   []checkRow
	Figures   []figure
	Groups    []groupRows
	Generated string
}

type groupRows struct {
	Name string
	Rows []checkRow
}

// summary counts verdicts: "2 failed, 1 warned, 20 passed, 8 skipped".
func summary(checks []Check) string {
	n := map[Verdict]int{}
	for _, c := range checks {
		n[c.Verdict]++
	}
	var parts []string
	for _, v := range []struct {
		v    Verdict
		word string
	}{{Fail, "failed"}, {Warn, "warned"}, {Pass, "passed"}, {Skip, "skipped"}} {
		if n[v.v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v.v], v.word))
		}
	}
	return strings.Join(parts, ", ")
}

func writeReportHTML(path string, rep *Report, figs []figure) error {
	pg := reportPage{Rep: rep, Host: rep.Host.Hostname, Verdict: strings.ToUpper(string(rep.Verdict)), Figures: figs,
		Summary: summary(rep.Checks), Generated: time.Now().UTC().Format(time.RFC3339)}
	if pg.Host == "" {
		pg.Host = "this server"
	}
	for _, c := range rep.Failing() {
		pg.Failing = append(pg.Failing, rowOf(c))
	}
	for _, g := range Groups() {
		gr := groupRows{Name: g}
		for _, c := range rep.Checks {
			if strings.HasPrefix(c.Name, g+".") {
				gr.Rows = append(gr.Rows, rowOf(c))
			}
		}
		if len(gr.Rows) > 0 {
			pg.Groups = append(pg.Groups, gr)
		}
	}
	tmpl, err := template.New("report").Funcs(template.FuncMap{"num": formatNumber}).Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("report template: %w", err) // a bug, caught by the tests
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// pageStyle is shared by the qualification and fleet reports.
const pageStyle = `<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{margin:.2em 0} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
.verdict{font-size:2.2em;font-weight:700;padding:.35em .7em;border-radius:6px;display:inline-block;margin:.2em 0 .1em}
.v-pass{background:#e3f4e4;color:#1b5e20;border:2px solid #2e7d32} .v-warn{background:#fff3d6;color:#8a5300;border:2px solid #e08a00}
.v-fail{background:#fde2e2;color:#a10000;border:2px solid #c62828}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0;width:100%} th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;white-space:nowrap}
tr.fail td.verdict-cell{background:#fde2e2;color:#a10000;font-weight:700} tr.warn td.verdict-cell{background:#fff3d6;color:#8a5300;font-weight:700}
tr.pass td.verdict-cell{color:#1b5e20} tr.skip td{color:#666}
.why{color:#555;font-size:.92em} .src{color:#666;font-size:.85em}
img{max-width:100%;border:1px solid #ddd} .note{background:#f4f6f8;border-left:4px solid #90a4ae;padding:.4em .8em;margin:.4em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em} dt{font-weight:600}
.emu{background:#ede7f6;color:#4527a0;font-size:.8em;padding:0 .3em;border-radius:3px}
</style>`

const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>adrbench qualify: {{.Host}}: {{.Verdict}}</title>` + pageStyle + `</head><body>
<p>adrbench qualify &middot; {{.Host}} &middot; profile <b>{{.Rep.Profile}}</b> &middot; {{.Rep.Dir}}</p>
<div class="verdict v-{{.Rep.Verdict}}">{{.Verdict}}</div>
<p>{{.Summary}} ({{len .Rep.Checks}} checks{{if .Rep.Quick}}, quick run{{end}}). The verdict is the worst check's; a skipped check says why it did not run.</p>
{{if .Failing}}
<h2>Checks that failed or warned</h2>
<table><tr><th>check</th><th>value</th><th>threshold</th><th>verdict</th><th>why</th><th>source of the threshold</th></tr>
{{range .Failing}}<tr class="{{.Verdict}}"><td>{{.Name}}{{if .Peer}} <span class="why">{{.Peer}}</span>{{end}}</td><td class="num">{{.Value}}</td><td class="num">{{.Threshold}}</td><td class="verdict-cell">{{.Verdict}}</td><td>{{.Reason}}{{if .Text}}<div class="why">{{.Text}}</div>{{end}}</td><td class="src">{{.Source}}</td></tr>
{{end}}</table>
{{else}}<p>No check failed or warned.</p>{{end}}

{{range .Figures}}
<h2>{{.Heading}}</h2>
<p><img src="{{index .Files 0}}" alt="{{.Title}}"></p>
<p class="why">{{.Caption}} Files: {{range .Files}}<a href="{{.}}">{{.}}</a> {{end}}</p>
{{end}}

<h2>All checks</h2>
{{range .Groups}}
<h3>{{.Name}}</h3>
<table><tr><th style="width:18%">check</th><th style="width:9%">value</th><th style="width:10%">threshold</th><th style="width:6%">verdict</th><th>what was found</th><th style="width:24%">source of the threshold</th></tr>
{{range .Rows}}<tr class="{{.Verdict}}"><td>{{.Name}}{{if .Peer}}<br><span class="why">{{.Peer}}</span>{{end}}</td><td class="num">{{.Value}}{{if .Emulated}} <span class="emu">emulated</span>{{end}}</td><td class="num">{{.Threshold}}</td><td class="verdict-cell">{{.Verdict}}</td><td>{{.Text}}{{if .Reason}}<div class="why">{{.Reason}}</div>{{end}}</td><td class="src">{{.Source}}</td></tr>
{{end}}</table>
{{end}}

{{if .Rep.E2E}}
<h2>End to end: etcdctl check perf's tiers</h2>
<table><tr><th>tier</th><th>target (puts/s)</th><th>clients</th><th>measured (s)</th><th>throughput (puts/s)</th><th>of target</th><th>errors</th><th>p50 (ms)</th><th>p99 (ms)</th><th>stddev (ms)</th><th>slowest (ms)</th><th>result</th></tr>
{{range .Rep.E2E}}<tr class="{{if .Passed}}pass{{else}}fail{{end}}"><td>{{.Name}}</td><td class="num">{{num .Rate}}</td><td class="num">{{.Clients}}</td><td class="num">{{num .DurationS}}</td><td class="num">{{num .Throughput}}</td><td class="num">{{num .RatePct}}%</td><td class="num">{{.Errors}}</td><td class="num">{{num .P50Ms}}</td><td class="num">{{num .P99Ms}}</td><td class="num">{{num .StdDevMs}}</td><td class="num">{{num .SlowestMs}}</td><td class="verdict-cell">{{if .Passed}}pass{{else}}fail: {{range $i, $m := .Missed}}{{if $i}}; {{end}}{{$m}}{{end}}{{end}}</td></tr>
{{end}}</table>
<p class="why">Latency is measured from each put's intended send time (open loop), so queueing counts, unlike check perf's.</p>
{{end}}

<h2>Server and run</h2>
<dl>
<dt>host</dt><dd>{{.Rep.Host.Hostname}}</dd>
<dt>CPU</dt><dd>{{.Rep.Host.CPU}} ({{.Rep.Host.Cores}} logical CPUs)</dd>
<dt>kernel</dt><dd>{{.Rep.Host.Kernel}}</dd>
<dt>directory</dt><dd>{{.Rep.Dir}} ({{.Rep.Host.Disk}})</dd>
<dt>profile</dt><dd>{{.Rep.Thresholds.Name}}: {{.Rep.Thresholds.Description}}</dd>
<dt>started</dt><dd>{{.Rep.Started.Format "2006-01-02 15:04:05 UTC"}}, took {{num .Rep.DurationS}} s</dd>
<dt>git revision</dt><dd><code>{{if .Rep.Git}}{{.Rep.Git}}{{else}}not stamped in this build{{end}}</code></dd>
</dl>
{{range .Rep.Notes}}<p class="note">{{.}}</p>{{end}}
<p>Raw data: <a href="qualify.json">qualify.json</a>{{range .Rep.Histograms}}{{if .File}}, <a href="{{.File}}">{{.File}}</a>{{end}}{{end}}. Report generated {{.Generated}}.</p>
</body></html>
`
