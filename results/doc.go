// Package results defines the run schema ("adrbench.run/v1") and reads and
// writes run directories.
//
// A run directory is self-describing: run.json carries the host probe, the
// effective configuration, the git revision and one entry per measured point;
// points.csv repeats the points as flat rows for spreadsheets and scripts; each
// point's merged latency histogram is saved twice, as an HdrHistogram
// percentile distribution (point-NNN.hgrm, for people and for HdrHistogram's
// plotters) and in HdrHistogram's compressed encoding inside run.json, so a
// reader can recompute any percentile without rerunning anything.
//
// The JSON field names of Run, Host, Point and Latency are a contract with
// scripts and other tools (docs/architecture.md, "Run schema"): fields may be
// added, never renamed or dropped. Read validates what it loads and names the first bad field, so a
// hand-edited or truncated run fails loudly instead of plotting nonsense.
package results
