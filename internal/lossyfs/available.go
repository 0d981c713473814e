package lossyfs

import (
	"fmt"
	"os"
	"os/exec"
)

// fuseDevice is the character device a FUSE server reads requests from.
const fuseDevice = "/dev/fuse"

// Available reports whether this process can serve and mount a FUSE file
// system: /dev/fuse must open for reading and writing, and the process
// must be root (Mount then calls mount(2) itself) or find fusermount3 or
// fusermount on PATH. The error names what is missing and how to get it.
// A container without the privilege to mount can pass this check and
// still fail in Mount.
func Available() error {
	f, err := os.OpenFile(fuseDevice, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: cannot open %s (%v): load the kernel module (modprobe fuse) or give the container the device (docker run --device /dev/fuse --cap-add SYS_ADMIN)",
			ErrNoFUSE, fuseDevice, err)
	}
	f.Close()
	if os.Geteuid() == 0 {
		return nil
	}
	for _, helper := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(helper); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: not running as root and neither fusermount3 nor fusermount is on PATH: install fuse3 (apt-get install fuse3)", ErrNoFUSE)
}
