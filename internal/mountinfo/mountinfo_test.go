package mountinfo

import (
	"strings"
	"testing"
)

const listing = `22 27 0:21 / /proc rw,nosuid - proc proc rw
25 27 0:23 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 259:1 / /var/lib/etcd rw,noatime - ext4 /dev/nvme0n1p1 rw,nobarrier,data=writeback
41 27 259:2 / /mnt/pm\040em rw - xfs /dev/pmem0 rw,dax=always
42 27 259:3 / /var/lib/etcd rw - xfs /dev/sdb rw,barrier=0
not a mountinfo line
43 27 0:5 / /data\040dir rw - xfs /dev/nvme1n1 rw
44 27 0:6 / /data rw - tmpfs tmpfs rw
`

func TestHolding(t *testing.T) {
	ms := Parse(strings.NewReader(listing))
	if len(ms) != 8 {
		t.Fatalf("parsed %d mounts, want 8 (the line without a separator skipped)", len(ms))
	}
	tests := []struct {
		name, path, want string
	}{
		{"root", "/var/tmp/q", "ext4 /dev/vda on /"},
		{"tmpfs", "/dev/shm/x", "tmpfs tmpfs on /dev/shm"},
		{"the later of two mounts on one point", "/var/lib/etcd/member", "xfs /dev/sdb on /var/lib/etcd"},
		{"escaped space", "/mnt/pm em/region", "xfs /dev/pmem0 on /mnt/pm em"},
		{"a prefix that is not a parent", "/var/lib/etcd2", "ext4 /dev/vda on /"},
		{"escaped space beside a shorter name", "/data dir/x", "xfs /dev/nvme1n1 on /data dir"},
		{"the point itself", "/data", "tmpfs tmpfs on /data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := Holding(ms, tt.path)
			if !ok || m.String() != tt.want {
				t.Fatalf("Holding(%s) = %q, %v; want %q", tt.path, m, ok, tt.want)
			}
		})
	}
	if _, ok := Holding(ms[:2], "/var/tmp"); ok {
		t.Fatal("Holding found a mount for a path no listed mount holds")
	}
}

func TestOptions(t *testing.T) {
	ms := Parse(strings.NewReader(listing))
	m, _ := Holding(ms, "/mnt/pm em")
	if !m.HasOption("dax=always") || !m.HasOption("dax=") || m.HasOption("dax") {
		t.Fatalf("options of %v: %v", m, m.AllOptions())
	}
	m, _ = Holding(ms[:5], "/var/lib/etcd")
	if v, ok := m.OptionValue("data"); !ok || v != "writeback" {
		t.Fatalf("data = %q, %v; want writeback", v, ok)
	}
	if m.MajorMinor != "259:1" || !m.HasOption("noatime") || !m.HasOption("nobarrier") {
		t.Fatalf("mount %+v", m)
	}
}

func TestOfDir(t *testing.T) {
	m, err := OfDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if m.Point == "" || m.FSType == "" {
		t.Fatalf("OfDir(temp dir) = %+v", m)
	}
}
