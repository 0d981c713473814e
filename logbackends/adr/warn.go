package adrlog

import (
	"fmt"

	"github.com/adrbench/adrbench/adr"
)

// warnRegion logs, one line each, what the operator must know about the
// region the log is kept in: that it is emulated and what a power loss
// or a reboot then costs, that its write latency is emulated, that a
// fallback was taken while mapping it. kind is the kind configured
// (--adr-region-kind), which auto may have resolved to another.
func (b *Backend) warnRegion(kind string) {
	i := b.info
	switch {
	case i.Emulated && i.Kind == adr.KindEmulated:
		why := fmt.Sprintf("region %s is a file mapped from the page cache (on tmpfs by default), not persistent memory", i.Path)
		if i.Warning != "" {
			why = i.Warning
		}
		b.log.Warn(fmt.Sprintf("--%s %s: %s: it survives a crash of the process, not a power loss or a reboot; then acknowledged writes not yet drained to disk are lost, and the member refuses to start until --%s accepts that",
			flagRegionKind, kind, why, flagRegionReset))
	case i.Emulated && i.MediaLatency == 0:
		b.log.Warn(fmt.Sprintf("region %s (kind %s) is emulated, not persistent memory: what a power loss does to it is not what it does to persistent memory",
			i.Path, i.Kind))
	case i.Warning != "":
		b.log.Warn(fmt.Sprintf("--%s %s: %s", flagRegionKind, kind, i.Warning))
	}
	if i.MediaLatency > 0 {
		b.log.Warn(fmt.Sprintf("--%s %v: the region's write latency is emulated: figures measured on it are labelled emulated",
			flagMediaLatency, i.MediaLatency))
	}
}
