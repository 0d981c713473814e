package store

import (
	"sort"
	"sync"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
)

// members is the static membership of the cluster (from --initial-cluster)
// and the client URLs each member published through raft.
type members struct {
	mu   sync.RWMutex
	list []*memberInfo
	byID map[uint64]*memberInfo
}

type memberInfo struct {
	id         uint64
	name       string
	peerURLs   []string
	clientURLs []string
}

func newMembers(cfg []Member, token string) *members {
	m := &members{byID: map[uint64]*memberInfo{}}
	for _, c := range cfg {
		mi := &memberInfo{id: memberID(c.PeerURLs, token), name: c.Name, peerURLs: c.PeerURLs}
		m.list = append(m.list, mi)
		m.byID[mi.id] = mi
	}
	sort.Slice(m.list, func(i, j int) bool { return m.list[i].id < m.list[j].id })
	return m
}

func (m *members) ids() []uint64 {
	ids := make([]uint64, len(m.list))
	for i, mi := range m.list {
		ids[i] = mi.id
	}
	return ids
}

func (m *members) setAttrs(r *membershippb.ClusterMemberAttrSetRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mi, ok := m.byID[r.GetMember_ID()]
	if !ok {
		return
	}
	if a := r.GetMemberAttributes(); a != nil {
		mi.name = a.GetName()
		mi.clientURLs = append([]string(nil), a.GetClientUrls()...)
	}
}

func (m *members) clientURLs(id uint64) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if mi, ok := m.byID[id]; ok {
		return mi.clientURLs
	}
	return nil
}

func (m *members) proto() []*etcdserverpb.Member {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*etcdserverpb.Member, len(m.list))
	for i, mi := range m.list {
		out[i] = &etcdserverpb.Member{
			ID:         mi.id,
			Name:       mi.name,
			PeerURLs:   mi.peerURLs,
			ClientURLs: mi.clientURLs,
		}
	}
	return out
}
