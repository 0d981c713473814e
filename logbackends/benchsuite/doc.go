// Package benchsuite is the one benchmark suite every log backend runs, so
// their numbers compare: each backend's _test.go calls
//
//	func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, Open) }
//
// and gets sub-benchmarks named backend=NAME/entry=BYTES/batch=ENTRIES (the
// key=value form benchstat groups by). One op is one Save of a batch of
// entries with a HardState and mustSync true, as a Ready loop under load
// makes it, on the real file system in a temporary directory. Besides
// ns/op each reports entries/s, syncs/op and the p99 latency of a Save
// (p99-ns, from an HdrHistogram of every op).
package benchsuite
