// Package model is a discrete-event simulation of the store's write path,
// the part of capacity planning that predicts: given the costs measured on
// one machine (package plan calibrates them), it runs a cluster of any size,
// on shared or dedicated cores, over any link delay, with any Save latency
// distribution, and reports throughput, the latency distribution and how
// busy each resource was.
//
// # What is simulated
//
// A write goes: generator (CPU: send) → the member its connection goes to
// (CPU: take the request) → that member's raft loop. On the leader the loop
// takes everything queued (up to 512 proposals and 512 messages, as the
// store's loop does) in one pass: CPU for the pass, per entry and per
// message; then it sends its appends to every follower that has something
// new, hands committed entries to the applier, and Saves, during which the
// loop waits (the leader sends before it persists, raft thesis §10.2.1).
// A follower's pass takes the appends that arrived meanwhile, pays its CPU,
// Saves them (one Save per pass: what arrived during the previous Save is
// grouped into the next), then answers the leader and forwards its own
// clients' proposals to it. A write sent to a follower reaches the log only
// through that forwarding. The leader commits an index when a quorum
// (n/2+1, itself included once its own Save has returned) has saved it;
// each member's applier applies committed entries in order (CPU per entry)
// and the member that took a request answers it (CPU), then the generator
// takes the answer (CPU).
//
// Peer messages travel one-way with the link's delay plus a uniform jitter,
// FIFO per link; client connections add no delay. A Save of k entries takes
// a draw from the calibrated one-entry distribution plus (k-1) times the
// calibrated increment per entry; a pass with no new entries needs no sync.
//
// # Assumptions
//
//   - CPU is a set of cores serving tasks first come, first served, without
//     preemption: all members and the generator share SharedCores (one
//     machine), or each member has CoresPerMember and the generator
//     ClientCores. A task that wakes a goroutine by a send (a proposal
//     waking the raft loop, the loop waking the applier, the applier a
//     waiting request) hands that one goroutine its core next, ahead of
//     the queue, as the Go runtime's runnext slot does; everything else
//     queues. Task costs are the calibrated constants (exponential draws
//     only in the queueing tests). Scheduler overhead is not a separate
//     task: calibration measures it as part of the per-request, per-pass
//     and per-entry costs. Garbage collection is too unless Config.GC is
//     set.
//   - With Config.GC, the one process of SharedCores collects garbage in
//     cycles, as Go's collector does: a cycle starts when the bytes
//     allocated (per write, per entry appended) reach GOGC% of the heap
//     left live by the previous one, and marks for a time proportional to
//     that live heap: its marking CPU over the share of the cores the
//     collector takes while it marks (its background workers and the
//     assists it charges the goroutines that allocate). While it marks, the
//     write path stops: no task starts on a core until the mark ends
//     (tasks already running finish; Saves, links and arrivals go on). On
//     this package's calibration host, with every goroutine of the write
//     path allocating, writes completed during 24 marks of 19–67 ms at
//     0–30% (median 3%) of the rate the cores sustain, and the writes due
//     as a mark began completed 8–63 ms after it ended: the assists leave
//     the write path next to nothing, rather than the 1-share of the cores
//     the collector leaves idle. Marking is what the collector costs; its
//     stop-the-world pauses (tens of microseconds) and the sweeping that
//     follows a mark are left out. The live heap a mark scans is a fixed
//     base (the cluster, and the requests in flight under the load) plus a
//     fixed number of bytes per entry a member appends (its raft log in
//     memory and the state machine's index keep every entry of a run: no
//     snapshot or compaction frees them). The mark is one fixed length
//     per cycle, whether the cores are busy or idle (the runtime's idle
//     workers shorten it on idle cores).
//   - A log backend's CPU for a Save (encoding, a sync's kernel time, a
//     flush) takes a core while the Save runs, within its measured
//     latency, not before it.
//   - A raft loop pass takes both proposals and messages; the store's loop
//     takes one or the other per select and then drains its Ready, which
//     differs only in how work is grouped between two close passes.
//   - The leader is member 0 for the whole run: no elections, heartbeats,
//     snapshots or compactions. Heartbeats cost a few messages a second,
//     negligible beside a load.
//   - Members' disks are independent: a member's Save latency does not
//     depend on the others' (on one machine, contention for one device is
//     folded into the distribution the caller passes).
//   - A follower applies what is committed and saved after its Save; the
//     extra Ready raft makes for it costs nothing here.
//   - The network has no bandwidth limit: a message costs CPU per byte at
//     each end, not wire time.
//   - The open loop schedules writes evenly at the rate (or as a Poisson
//     process); Clients workers send them and a write due while every
//     worker is busy waits, its latency counted from when it was due, as
//     the harness measures. The rate an open loop keeps up with
//     (Result.Achieved) is read from the trend of latency against due
//     time over the measured writes: zero when it keeps up, the excess
//     when it falls behind.
//
// The time unit is the second (float64) throughout.
package model
