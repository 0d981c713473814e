package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
)

// A database copied out of a member (a Maintenance snapshot, or a raft
// snapshot sent to a follower) carries the sha256 of its bytes after
// them, as etcd's snapshots do: a bbolt file is a whole number of pages,
// so a length of a multiple of 512 plus sha256.Size tells a copy with the
// hash from one without, which is how etcdctl snapshot restore checks it.
const dbHashAlign = 512

// appendDBHash appends the sha256 of db to it.
func appendDBHash(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}

// splitDBHash returns the database in data, after checking the sha256
// appended to it; data without a hash is returned whole.
func splitDBHash(data []byte) ([]byte, error) {
	if len(data)%dbHashAlign != sha256.Size {
		return data, nil
	}
	db, want := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(db); !bytes.Equal(got[:], want) {
		return nil, fmt.Errorf("%w: %d bytes hash to %x, the sender's sha256 is %x", ErrSnapshotHash, len(db), got, want)
	}
	return db, nil
}
