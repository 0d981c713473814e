package harness

import "google.golang.org/grpc"

// The load generator's own settings. Nearly all of its CPU is spent in the
// gRPC client (about 90 allocations and two goroutine hand-offs per
// operation); these settings trim what can be trimmed there without
// changing what is sent to the cluster. The garbage collector's target, a
// setting of the whole process, is left to the program that runs the
// generator.

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
