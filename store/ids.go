package store

import (
	"crypto/sha1"
	"encoding/binary"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// memberID derives a member's id from its peer URLs and the cluster token,
// as etcd does, so that the same flags give the same id on every start.
func memberID(peerURLs []string, token string) uint64 {
	urls := append([]string(nil), peerURLs...)
	sort.Strings(urls)
	sum := sha1.Sum([]byte(strings.Join(urls, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

// clusterID derives the cluster id from its member ids.
func clusterID(ids []uint64, token string) uint64 {
	sorted := append([]uint64(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	b := make([]byte, 0, 8*len(sorted)+len(token))
	for _, id := range sorted {
		b = binary.BigEndian.AppendUint64(b, id)
	}
	b = append(b, token...)
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// idGenerator hands out ids unique across the cluster and across restarts:
// the low 16 bits of the member id, then a millisecond timestamp taken at
// start, then a counter. Request ids key the proposal waits of every member
// (each member applies every entry), so two members must never share one.
type idGenerator struct {
	prefix uint64
	suffix atomic.Uint64
}

const (
	tsLen  = 5 * 8
	cntLen = 8
	sufLen = tsLen + cntLen
)

func newIDGenerator(member uint64, now time.Time) *idGenerator {
	g := &idGenerator{prefix: member << sufLen}
	ms := uint64(now.UnixMilli())
	g.suffix.Store((ms << (64 - tsLen)) >> (64 - sufLen))
	return g
}

// next returns a new id. Lease ids are exposed as int64 and must be
// positive, so the top bit is always cleared.
func (g *idGenerator) next() uint64 {
	s := g.suffix.Add(1) & (1<<sufLen - 1)
	return (g.prefix | s) &^ (1 << 63)
}
