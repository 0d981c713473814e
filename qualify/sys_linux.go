package qualify

// What qualification asks the Linux kernel directly: the clock discipline
// and whether a process exists.

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// clockState reads the kernel's clock discipline with adjtimex (modes 0:
// read only, no privilege needed). The clock is synchronized when an NTP
// or PTP daemon has told the kernel so: STA_UNSYNC is clear and adjtimex
// does not return TIME_ERROR.
func clockState() (synced bool, maxErrorMs, estErrorMs float64, err error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, 0, 0, fmt.Errorf("adjtimex: %w", err)
	}
	synced = tx.Status&unix.STA_UNSYNC == 0 && state != unix.TIME_ERROR
	return synced, float64(tx.Maxerror) / 1000, float64(tx.Esterror) / 1000, nil
}

// clockGroup reports whether the system clock is synchronized.
func (r *runner) clockGroup(ctx context.Context) error {
	synced, maxErr, estErr, err := clockState()
	if err != nil {
		r.add(skipped(r.prof, "clock.synchronized", err.Error()))
		return ctx.Err()
	}
	r.add(clockCheck(r.prof, synced, maxErr, estErr))
	return ctx.Err()
}

// processExists says whether a process with this id exists (signal 0
// checks without sending; EPERM means it exists but is not ours).
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
