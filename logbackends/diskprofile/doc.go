// Package diskprofile emulates a slower disk: Wrap decorates a vfs.FS so
// that every file Sync and directory sync takes at least a device
// profile's latency. It lets one machine stand in for the disks of other
// servers, above all the SATA SSDs of the 2015 Xeon servers in Intel's etcd
// test (profile ssd-2015), so that what the log backends gain or lose is
// seen at the sync costs they had to live with.
//
// The latency is added on top of the real sync, after it returns: the
// emulated device is never faster than the one underneath, so emulation is
// meaningful on a device whose own fdatasync is well below the profile's
// (an NVMe drive with power-loss protection, or tmpfs). The added latency
// is a sleep, so it is a lower bound: the scheduler may add tens of
// microseconds, which matters for the nvme profile and not for the others.
// Writes are not slowed: for a log that appends to a preallocated file,
// the page cache absorbs them and the sync is where a device's cost shows.
//
// The figures in the profiles are approximations drawn from published
// measurements, cited next to each profile in profiles.go; they are not a
// model of any one drive. Results taken with any profile other than native
// are emulated and must be labelled so: Profile.Emulated says it,
// Profile.Label gives the label ("disk-profile:ssd-2015"), and a wrapped
// FS reports the label through an Emulated() []string method, which the
// file log backends copy into Stats.Emulated.
package diskprofile
