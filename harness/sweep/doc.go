// Package sweep runs a matrix of benchmark points from one YAML file and
// keeps every measured point in one run directory.
//
// A Config names the axes (targets × log backends × cluster sizes × network
// delays × disk profiles × client counts × TLS off or on, plus optional
// open-loop rate steps) and what every point shares (the workload and how long to
// measure). Expand turns it into a Plan of harness.BenchConfig values and
// checks each one before anything starts, so a bad field fails in a second
// rather than an hour into a sweep. Points whose log backend does not matter
// (targets etcd and external run their own storage) are planned once, not
// once per backend; target process runs the backends as inproc does, but
// like etcd only at the native disk and no delay; target inproc runs only
// without TLS; an etcd target whose binary is missing is dropped with a
// note that reaches the output and run.json, never silently.
//
// Runner measures the plan one point at a time and rewrites run.json after
// every point, atomically (written beside the run, then renamed over it), so
// a crash or Ctrl-C keeps all that was measured. Re-running with the same
// directory skips the points run.json already holds, matched on their
// results.PointKey (target, backend, nodes, delay, disk, workload, mode,
// clients, conns, rate, key and value sizes), and appends the rest. A point cut short by cancellation is discarded rather than kept: a
// short point would look like a measurement and is not one.
//
// Drawing the figures is not this package's job: cmd/adrbench calls plots
// on the directory once the runner returns, interrupted or not.
package sweep
