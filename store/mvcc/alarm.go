package mvcc

import (
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// bucketAlarm holds the raised alarms, as etcd's alarm bucket does: the
// key is the encoded AlarmMember, the value empty. Alarms go through raft,
// so every member holds the same ones, and they outlive restarts.
var bucketAlarm = []byte("alarm")

// alarmKey identifies a raised alarm.
type alarmKey struct {
	member uint64
	alarm  etcdserverpb.AlarmType
}

func encodeAlarm(k alarmKey) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(&etcdserverpb.AlarmMember{MemberID: k.member, Alarm: k.alarm})
}

func decodeAlarm(k []byte) (alarmKey, error) {
	var m etcdserverpb.AlarmMember
	if err := proto.Unmarshal(k, &m); err != nil {
		return alarmKey{}, fmt.Errorf("%w: alarm %x: %v", ErrCorrupt, k, err)
	}
	return alarmKey{member: m.MemberID, alarm: m.Alarm}, nil
}

// loadAlarmsLocked reads the alarm bucket; a file without one has none.
func (s *Store) loadAlarmsLocked(tx *bbolt.Tx) error {
	s.alarms = make(map[alarmKey]struct{})
	b := tx.Bucket(bucketAlarm)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		a, err := decodeAlarm(k)
		if err != nil {
			return err
		}
		s.alarms[a] = struct{}{}
		return nil
	})
}

// alarmLocked applies an alarm request as etcd does: ACTIVATE raises an
// alarm for a member, DEACTIVATE clears it, GET lists the raised ones of
// a type (NONE: all). It takes no revision.
func (s *Store) alarmLocked(r *etcdserverpb.AlarmRequest) (*etcdserverpb.AlarmResponse, error) {
	resp := &etcdserverpb.AlarmResponse{Header: header(s.rev.Load())}
	k := alarmKey{member: r.MemberID, alarm: r.Alarm}
	switch r.Action {
	case etcdserverpb.AlarmRequest_GET:
		resp.Alarms = s.alarmListLocked(r.Alarm)
		return resp, nil
	case etcdserverpb.AlarmRequest_ACTIVATE:
		if r.Alarm == etcdserverpb.AlarmType_NONE {
			return nil, fmt.Errorf("%w: activate alarm NONE", ErrUnsupported)
		}
		if _, ok := s.alarms[k]; !ok {
			if err := s.putAlarmLocked(k, true); err != nil {
				return nil, err
			}
		}
	case etcdserverpb.AlarmRequest_DEACTIVATE:
		if _, ok := s.alarms[k]; !ok {
			return resp, nil
		}
		if err := s.putAlarmLocked(k, false); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: alarm action %d", ErrUnsupported, r.Action)
	}
	resp.Alarms = []*etcdserverpb.AlarmMember{{MemberID: k.member, Alarm: k.alarm}}
	return resp, nil
}

// putAlarmLocked raises (on) or clears alarm k in the batch and in memory.
func (s *Store) putAlarmLocked(k alarmKey, on bool) error {
	b, err := encodeAlarm(k)
	if err != nil {
		return fmt.Errorf("%w: encode alarm: %v", ErrCorrupt, err)
	}
	if on {
		err = s.alarmB.Put(b, nil)
	} else {
		err = s.alarmB.Delete(b)
	}
	if err != nil {
		return s.fail(fmt.Errorf("%w: alarm %v of %x: %w", ErrBackend, k.alarm, k.member, err))
	}
	if on {
		s.alarms[k] = struct{}{}
	} else {
		delete(s.alarms, k)
	}
	s.pending++
	return nil
}

func (s *Store) alarmListLocked(t etcdserverpb.AlarmType) []*etcdserverpb.AlarmMember {
	var out []*etcdserverpb.AlarmMember
	for k := range s.alarms {
		if t == etcdserverpb.AlarmType_NONE || t == k.alarm {
			out = append(out, &etcdserverpb.AlarmMember{MemberID: k.member, Alarm: k.alarm})
		}
	}
	slices.SortFunc(out, func(a, b *etcdserverpb.AlarmMember) int {
		switch {
		case a.MemberID != b.MemberID:
			return cmpU64(a.MemberID, b.MemberID)
		case a.Alarm < b.Alarm:
			return -1
		case a.Alarm > b.Alarm:
			return 1
		}
		return 0
	})
	return out
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Alarms returns the raised alarms, by member and type.
func (s *Store) Alarms() []*etcdserverpb.AlarmMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.alarmListLocked(etcdserverpb.AlarmType_NONE)
}

// corruptLocked reports whether a CORRUPT alarm is raised.
func (s *Store) corruptLocked() bool {
	for k := range s.alarms {
		if k.alarm == etcdserverpb.AlarmType_CORRUPT {
			return true
		}
	}
	return false
}

// changesData reports whether r would change the key space or the
// leases: the requests a CORRUPT alarm refuses, as etcd's do.
func changesData(r *etcdserverpb.InternalRaftRequest) bool {
	return r.Put != nil || r.DeleteRange != nil || r.Txn != nil || r.Compaction != nil ||
		r.LeaseGrant != nil || r.LeaseRevoke != nil
}
