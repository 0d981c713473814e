package adrlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/adrbench/adrbench/adr"
	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/vfs"
)

// The binding record is a small file in the log directory that says which
// ring the disk log is bound to and whether entries may be in that ring
// only. doc.go has its byte table and the protocol that writes it.
const (
	bindingFile  = "adr-binding"
	bindingMagic = 0x31444e4942524441 // "ADRBIND1", little-endian
	bindingVer   = 1

	bindingFixed = 76 // bytes before the region path
	// maxRegionPath bounds the path a record holds, so a damaged length
	// cannot make the reader allocate gigabytes.
	maxRegionPath = 4096
)

// bindState is what a binding record says about the disk log and its ring.
type bindState uint32

const (
	// stateBinding: a new ring is being formatted; nothing has been
	// published to it, and everything the log holds is on disk.
	stateBinding bindState = 1
	// stateBound: the log is bound to the ring; entries after the disk
	// log's end may be in the ring only.
	stateBound bindState = 2
	// stateClean: the log was closed cleanly; everything up to index was
	// drained to disk and the ring holds nothing the disk lacks.
	stateClean bindState = 3
)

func (s bindState) String() string {
	switch s {
	case stateBinding:
		return "binding"
	case stateBound:
		return "bound"
	case stateClean:
		return "clean"
	}
	return fmt.Sprintf("state %d", uint32(s))
}

// binding is the content of a binding record.
type binding struct {
	state bindState
	// ring is the ring the log is bound to (being formatted, for
	// stateBinding).
	ring adr.UUID
	// prev is, for stateBinding, the ring the region held when the
	// binding began (zero if none): the one being formatted over.
	prev            adr.UUID
	cluster, member uint64
	// index is, for stateBinding and stateBound, the disk log's last
	// index when the ring was bound; for stateClean, its last index at
	// the clean close, with everything up to it on disk.
	index uint64
	// region is the path of the region the ring is in, for messages and
	// to recognise a binding that did not finish.
	region string
}

func (r binding) encode() []byte {
	b := make([]byte, bindingFixed, bindingFixed+len(r.region)+4)
	binary.LittleEndian.PutUint64(b[0:], bindingMagic)
	binary.LittleEndian.PutUint32(b[8:], bindingVer)
	binary.LittleEndian.PutUint32(b[12:], uint32(r.state))
	copy(b[16:32], r.ring[:])
	copy(b[32:48], r.prev[:])
	binary.LittleEndian.PutUint64(b[48:], r.cluster)
	binary.LittleEndian.PutUint64(b[56:], r.member)
	binary.LittleEndian.PutUint64(b[64:], r.index)
	binary.LittleEndian.PutUint32(b[72:], uint32(len(r.region)))
	b = append(b, r.region...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// decodeBinding parses a binding record. Any damage is an error: the
// record is written whole by a rename, so a crash cannot leave it torn.
func decodeBinding(b []byte) (binding, error) {
	var r binding
	if len(b) < bindingFixed+4 {
		return r, fmt.Errorf("%d bytes, a record has at least %d", len(b), bindingFixed+4)
	}
	if m := binary.LittleEndian.Uint64(b); m != bindingMagic {
		return r, fmt.Errorf("magic number %016x", m)
	}
	n := binary.LittleEndian.Uint32(b[72:])
	if n > maxRegionPath || len(b) != bindingFixed+int(n)+4 {
		return r, fmt.Errorf("region path of %d bytes in a record of %d", n, len(b))
	}
	end := bindingFixed + int(n)
	if got, want := binary.LittleEndian.Uint32(b[end:]), crc32.Checksum(b[:end], castagnoli); got != want {
		return r, fmt.Errorf("checksum %08x, want %08x", got, want)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != bindingVer {
		return r, fmt.Errorf("version %d, this build reads %d", v, bindingVer)
	}
	r.state = bindState(binary.LittleEndian.Uint32(b[12:]))
	if r.state < stateBinding || r.state > stateClean {
		return r, fmt.Errorf("unknown %v", r.state)
	}
	copy(r.ring[:], b[16:32])
	copy(r.prev[:], b[32:48])
	r.cluster = binary.LittleEndian.Uint64(b[48:])
	r.member = binary.LittleEndian.Uint64(b[56:])
	r.index = binary.LittleEndian.Uint64(b[64:])
	r.region = string(b[bindingFixed:end])
	return r, nil
}

// readBinding reads the binding record in dir: nil when there is none, an
// error wrapping logbackends.ErrCorrupt when it is damaged.
func readBinding(fsys vfs.FS, dir string) (*binding, error) {
	path := filepath.Join(dir, bindingFile)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", Name, path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", Name, path, err)
	}
	if size > bindingFixed+maxRegionPath+4 {
		return nil, fmt.Errorf("%s: %w: %s: %d bytes, more than a binding record holds", Name, logbackends.ErrCorrupt, path, size)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: read %s: %w", Name, path, err)
	}
	r, err := decodeBinding(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: binding record %s: %v", Name, logbackends.ErrCorrupt, path, err)
	}
	return &r, nil
}

// bindStep names a step of writing a binding record or of binding a
// ring; tests leave one out to show that the crash test notices.
type bindStep int

const (
	bindNone          bindStep = iota
	bindSyncRecord             // fdatasync the new record before it replaces the old
	bindSyncDir                // fsync the directory after the rename
	bindRecordBinding          // record stateBinding before formatting the ring
)

// writeBinding replaces the binding record in dir with r, durably: the
// new record is written to a temporary file and synced, renamed over the
// old one, and the directory synced, so a crash leaves the old record or
// the new one, never a mix or none. skip leaves a step out (tests only).
func writeBinding(fsys vfs.FS, dir string, r binding, skip bindStep) error {
	path := filepath.Join(dir, bindingFile)
	tmp := path + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", Name, path, err)
	}
	_, err = f.Write(r.encode())
	if err == nil && skip != bindSyncRecord {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err == nil && skip != bindSyncDir {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", Name, path, err)
	}
	return nil
}
