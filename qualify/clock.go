package qualify

import "fmt"

// clockCheck judges the clock: synchronized or not, with the kernel's
// error bounds (maximum error grows by 0.5 ms a second once no daemon
// updates it, up to 16 s).
func clockCheck(p Profile, synced bool, maxErrorMs, estErrorMs float64) Check {
	c := judge(p, "clock.synchronized", boolValue(synced))
	c.Details = map[string]float64{"max_error_ms": maxErrorMs, "est_error_ms": estErrorMs}
	if synced {
		c.Text = fmt.Sprintf("synchronized, maximum error %s ms", formatNumber(maxErrorMs))
	} else {
		c.Text = fmt.Sprintf("not synchronized (no NTP or PTP daemon has disciplined it), maximum error %s ms", formatNumber(maxErrorMs))
	}
	return c
}
