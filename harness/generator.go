package harness

import (
	"os"
	"runtime/debug"

	"google.golang.org/grpc"
)

// The load generator's own settings. Nearly all of its CPU is spent in the
// gRPC client (about 90 allocations and two goroutine hand-offs per
// operation); these settings trim what can be trimmed there without
// changing what is sent to the cluster.

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
// returns the function that restores the previous setting.
func tuneGeneratorGC(target string) (restore func()) {
	if target == TargetInproc {
		return func() {}
	}
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(generatorGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// clientWindow is the HTTP/2 flow-control window of each load connection
// and of each stream on it. Setting a window turns off gRPC's bandwidth-
// delay probing, which under load sends a ping on every connection about
// once per round trip (and reads its ack) to decide whether to grow the
// window; 16 MiB is the most that probing would ever grow it to.
const clientWindow = 16 << 20

// loadDialOptions are the gRPC options of the load connections.
func loadDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(clientWindow),
		grpc.WithInitialConnWindowSize(clientWindow),
	}
}
