// Package qualify measures a server and gives it one verdict for running a
// member of an etcd-style cluster: `adrbench qualify` is its command, Run
// its entry point.
//
// A qualification is a list of checks. Each has a value with a unit, a
// threshold from a Profile (etcd's documented figures, OpenShift's, or a
// YAML file), a verdict (pass, warn, fail, or skip with the reason) and
// the source of its threshold. The overall verdict is the worst check's,
// skipped checks counting as passed. The groups, in the order they run:
//
//   - disk: the WAL pattern measured in Go through the log backends' file
//     system abstraction (logbackends/vfs), 2300-byte sequential writes each
//     followed by fdatasync into a preallocated file, and its 8000-byte
//     variant; the backend-commit pattern (random 4 KiB pages, fdatasync,
//     a meta page, fdatasync, as bbolt commits); fio with etcd's job on
//     the same directory when fio is on PATH, its rounds interleaved with
//     Go's so that both see the disk as it drifts, and a warning when the
//     two fdatasync p99s disagree by more than 25%; and what makes the
//     numbers lie or durability break: a volatile file system, barriers off,
//     data=writeback, a write cache nobody flushes, free space against the
//     planned database.
//   - pmem: namespaces and devices, fs-DAX mounts, whether the kernel takes
//     MAP_SYNC for a file in the directory, the CPU's flush instructions,
//     the regions' persistence domain and the flush+fence latency of a
//     region mapped the way the adr backend maps one (package adr). With no
//     persistent memory the checks skip, saying that the adr backend can
//     only run on an emulated region here, which a power loss erases,
//     unless the profile requires persistent memory.
//   - cpu: cores, frequency governor, steal time over the run, and the
//     writes per CPU-second of a one-member store on the memory backend.
//   - memory: installed and available memory against the planned database,
//     swap, transparent huge pages.
//   - net: round trip, loss and throughput to each peer running Serve
//     (`adrbench qualify serve`); the protocol is in proto.go. A peer that
//     cannot be reached fails its RTT check and nothing else.
//   - clock: whether the kernel reports the clock synchronized (adjtimex).
//   - e2e: a fresh one-member adrbench on the directory per tier of
//     etcdctl check perf (s, m, l, xl), driven open-loop by the harness
//     with latency measured from each put's intended send time, judged by
//     check perf's criteria plus a p99 bound; the highest tier passed is
//     the check's value.
//
// Everything Run writes into the qualified directory lives in one
// temporary directory inside it, removed before Run returns, also when it
// fails or is cancelled (the end-to-end members' emulated persistent-memory
// regions, which live on tmpfs, included). A SIGKILL is the one way to
// leave it behind (.adrbench-qualify-*); the next qualification of the
// directory removes it, its owner.pid naming a process that has gone.
//
// Results: WriteDir writes qualify.json (schema adrbench.qualify/v1: the
// contract fields schema, host, profile, verdict and checks with name,
// value, unit, threshold, verdict and source), the raw histograms (.hgrm,
// and encoded in the JSON), the disk latency distributions drawn against
// their thresholds with gonum/plot, and report.html, which opens with the
// verdict and the failing checks. Compare lines several servers' results
// up and flags outliers against the fleet's median; WriteFleet draws and
// writes the comparison.
package qualify
