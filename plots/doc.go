// Package plots draws a run directory's figures and report.html from its
// run.json, and from nothing else: what a figure shows can always be traced
// to the saved points of the run schema (docs/architecture.md, "Run
// schema"), because measuring, aggregating and drawing are separate.
//
// Render writes each figure as PNG (for the report and quick viewing) and
// SVG (for papers and zooming), then report.html, which embeds the PNGs by
// file name so the directory can be copied or served as it is. A figure
// whose data the run lacks (no open-loop points, no adr point to compare)
// is not drawn; the report says why instead.
//
// Figures share a style: one colour and marker per series (a log backend,
// or etcd as a reference), one legend per figure beside its panels, units
// on every axis. Series of the async backend carry "(unsafe)" and those of
// points with emulated parts (an emulated persistent-memory region, an
// injected disk profile) carry "(emulated)" in legends, panel titles and
// tables, because a reader who skims a figure must not take either for a
// plain measurement.
package plots
