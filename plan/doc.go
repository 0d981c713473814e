// Package plan answers the capacity questions of etcd-style clusters: how
// many writes/s a configuration takes with its p99 under an objective, by
// measuring it (Measurer), and, for configurations one machine cannot run,
// by predicting it with a model calibrated on this machine (Calibrate,
// Predictor) whose error is measured against runs it was not fitted to
// (Predictor.Validate).
//
// # Measuring
//
// A configuration's capacity at an objective is the highest offered
// open-loop rate it sustains: at least 99% of the offered rate completed
// while due, no errors, p99 (and p50, p99.9 when given) within bounds.
// package search brackets it exponentially, bisects to a resolution and
// probes both ends of the final bracket again for a band. A probe is one
// harness.Bench run on a fresh cluster (harness.go is the package's only
// use of the harness). The completed rate is read from the per-second
// series up to the end of the measured window, so writes draining after
// it do not count against a rate that was kept up. Every probe goes into
// the run directory's run.json and the answers into plan.json as they
// come, so Ctrl-C keeps what was measured and the same --out resumes.
//
// # Calibrating
//
// Calibrate measures, with short targeted runs on this machine:
//   - each log backend's Save latency distribution (one entry) and the
//     latency each further entry adds, on the native disk and, for the
//     backends that wait for the disk (fsync, batched), on every disk
//     profile; their CPU per Save and per entry (getrusage over the Saves
//     and the backend's Close, so a drainer or syncer counts);
//   - how much the native disk's syncs slow when 3, 5 and 9 members sync
//     it at once;
//   - the in-process network's and TCP's CPU per message and per byte;
//   - the state machine's CPU per put;
//   - the load generator's CPU per write, alone in its process (process
//     target);
//   - the Go garbage collector of the process the inproc runs share
//     (runtime/metrics over each cluster run below): bytes allocated per
//     write and per entry, the live heap of a fresh cluster and what each
//     entry appended adds to it, what the load itself keeps live per
//     client (the live heap the last cycle of a run found, less the
//     live heap after it), the marking CPU per live byte, and the
//     share of the cores a mark takes (from the runs that keep the cores
//     busy: all marking CPU over the background workers', times their
//     quarter of the cores);
//   - the CPU per write, per raft loop pass and per entry, fitted through
//     the model to closed-loop inproc runs of the memory backend (1, 3 and
//     5 members, 1, 16, 256 and 1000 clients): the model, run on each of those
//     setups, must spend the CPU per write that was measured, less the
//     collector's marking, which the model runs as a task of its own.
//
// # The model's assumptions
//
// The model (package model) is a discrete-event simulation of the write
// path; its package comment states its own assumptions. What this package
// adds:
//   - Costs measured here hold for other machines only as far as their
//     CPUs are alike: a prediction for dedicated servers uses this
//     machine's per-task CPU, on as many cores per member as asked.
//   - cores_per_member 0 is this machine: every member and the generator
//     share its cores, and members share its disk (the contention factor
//     slows the native part of every sync). If other work took part of the
//     cores while calibration's saturated runs ran (CPU time over wall
//     time below the core count), the prediction assumes it still does:
//     its CPU costs are scaled by cores over available cores. With dedicated cores, every
//     member has a disk of its own and the generator a machine of its own
//     with as many cores as a member; messages cost what TCP costs.
//   - A disk profile that was not calibrated is its definition (a fixed
//     latency plus a uniform jitter) added to the native distribution,
//     as diskprofile adds it; such predictions are marked extrapolated.
//     On dedicated servers a profile is the server's disk: its syncs take
//     what the profile defines, without this machine's disk underneath
//     or the emulation's timer slack, and with the sync's CPU measured
//     here.
//   - Predictions beyond the calibrated envelope (more members than the
//     calibration ran, one-way delays above 5 ms, values more than four
//     times larger or smaller, more than 1000 clients, dedicated cores)
//     are marked extrapolated.
//   - An inproc prediction on this machine runs the collector when the
//     calibration measured it (package model says how): its marks, which
//     stop the write path, lengthen a shared-core cluster's tail well
//     before its cores are busy, which its average CPU does not show.
//     An open-loop simulation then covers a whole probe (1 s of warm-up
//     and 5 s measured, from a fresh cluster), since the live heap, and
//     each mark, grows with the log through it. Predictions for processes of their own or
//     dedicated servers leave it in the task costs, evenly.
//   - A prediction's capacity search starts from the closed-loop
//     throughput of its clients, which bounds what an open loop with as
//     many workers can sustain; its band is the final bracket, widened by
//     the median error of the calibration's validation when there is one.
//   - The bottleneck is the resource nearest saturation at the predicted
//     capacity (shared or per-member CPU, the leader's raft loop, a
//     member's Saves), or the network when none is above 60% busy and a
//     round trip is at least half the median latency.
//
// # Files
//
// calibration.json (schema adrbench.calibration/v1) holds the costs, the
// host probe and every observation they came from. plan.json (schema
// adrbench.plan/v1) is a contract for scripts: kind measured or predicted,
// the objective, and per configuration max_writes_s, p99_ms_at_max, a
// low/high band, the bottleneck and whether it is extrapolated.
// validation.json (adrbench.validation/v1) is the model against measured
// runs. report.html opens with the answer.
package plan
