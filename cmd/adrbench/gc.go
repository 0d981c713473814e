package main

import (
	"os"
	"runtime/debug"

	"github.com/adrbench/adrbench/harness"
)

// generatorGCPercent is the garbage collector's target while this process
// runs only the load generator, as it does for every target but inproc. The
// generator's live heap is small, so at Go's default of 100 the collector
// runs every few thousand operations and took about a seventh of the
// generator's CPU; at 400 it runs a quarter as often, for a heap some tens
// of MB larger. Inproc runs keep the default because their servers share
// the process and must behave as `adrbench serve` does. GOGC set in the
// environment always wins.
const generatorGCPercent = 400

// tuneGeneratorGC applies generatorGCPercent for a run against target and
// returns the function that restores the previous setting. The setting is
// the whole process's, so the commands decide it around each run rather
// than the harness inside it.
func tuneGeneratorGC(target string) (restore func()) {
	if target == harness.TargetInproc {
		return func() {}
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(generatorGCPercent)
	return func() { debug.SetGCPercent(old) }
}
