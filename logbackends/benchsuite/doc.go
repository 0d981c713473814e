// Package benchsuite is the one benchmark suite every log backend runs, so
// their numbers compare: each backend's _test.go calls
//
//	func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, NewEntry(DefaultConfig()).Open) }
//	func BenchmarkSaveConcurrent(b *testing.B) {
//		benchsuite.SaveConcurrent(b, "backend="+Name, NewEntry(DefaultConfig()).Open)
//	}
//
// Save gets sub-benchmarks named backend=NAME/entry=BYTES/batch=ENTRIES (the
// key=value form benchstat groups by). One op is one Save of a batch of
// entries with a HardState and mustSync true, as a Ready loop under load
// makes it, on the real file system in a temporary directory. Besides
// ns/op each reports entries/s, syncs/op and the p99 latency of a Save
// (p99-ns, from an HdrHistogram of every op).
//
// SaveConcurrent is the group-commit view: 1, 4, 16 and 64 writers each
// saving one 256-byte entry at a time, indexes drawn from one sequence
// (LABEL/writers=N/entry=256, the label naming the backend and any
// setting, e.g. backend=batched/window=1ms). A backend that takes
// concurrent Saves (logbackends.ConcurrentSaver) lets their syncs be shared;
// any other has its writers take turns. It reports entries/s, entries/sync
// and p99-ns.
package benchsuite
