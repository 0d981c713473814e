// Package mountinfo reads Linux's mount table (/proc/self/mountinfo, the
// mount namespace of this process, which in a container is not PID 1's)
// and finds the mount that holds a path.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Mount is one line of the mount table.
type Mount struct {
	Point  string `json:"mount_point"`
	FSType string `json:"fs_type"`
	Source string `json:"source"`
	// MajorMinor is the device number of the file system ("254:0").
	MajorMinor string `json:"major_minor"`
	// Options are the per-mount options (rw,relatime), SuperOptions the
	// file system's own (data=ordered, barrier=0, dax).
	Options      []string `json:"options"`
	SuperOptions []string `json:"super_options"`
}

// String describes the mount as "fstype source on mountpoint".
func (m Mount) String() string { return fmt.Sprintf("%s %s on %s", m.FSType, m.Source, m.Point) }

// AllOptions lists both kinds of options.
func (m Mount) AllOptions() []string {
	return append(slices.Clone(m.Options), m.SuperOptions...)
}

// HasOption reports whether the mount has option name (exactly, or as
// name=value when name ends with '=').
func (m Mount) HasOption(name string) bool {
	for _, o := range m.AllOptions() {
		if o == name || (strings.HasSuffix(name, "=") && strings.HasPrefix(o, name)) {
			return true
		}
	}
	return false
}

// OptionValue returns the value of key=value among the options.
func (m Mount) OptionValue(key string) (string, bool) {
	for _, o := range m.AllOptions() {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Parse reads a mountinfo listing; lines it cannot read are skipped.
func Parse(r io.Reader) []Mount {
	var ms []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 6 || len(qf) < 2 {
			continue
		}
		m := Mount{
			MajorMinor: pf[2],
			Point:      unescape(pf[4]),
			Options:    strings.Split(pf[5], ","),
			FSType:     qf[0],
			Source:     unescape(qf[1]),
		}
		if len(qf) > 2 {
			m.SuperOptions = strings.Split(qf[2], ",")
		}
		ms = append(ms, m)
	}
	return ms
}

// Holding returns the mount holding the absolute path: the last-mounted of
// those with the longest mount point prefixing it (a later mount over the
// same point hides the earlier one).
func Holding(ms []Mount, path string) (Mount, bool) {
	best, found := -1, Mount{}
	for _, m := range ms {
		mp := m.Point
		if !(path == mp || mp == "/" || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) {
			continue
		}
		if len(mp) >= best {
			best, found = len(mp), m
		}
	}
	return found, best >= 0
}

// OfDir reads this process's mount table and returns the mount holding
// dir, after making it absolute and resolving its symbolic links.
func OfDir(dir string) (Mount, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Mount{}, fmt.Errorf("mountinfo: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Mount{}, fmt.Errorf("mountinfo: %w", err)
	}
	defer f.Close()
	m, ok := Holding(Parse(f), abs)
	if !ok {
		return Mount{}, fmt.Errorf("mountinfo: no mount holds %s", abs)
	}
	return m, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				sb.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}
