package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/adrbench/adrbench/store/mvcc"
)

// healthHandler answers like etcd's /health: healthy when there is a
// leader and a linearizable read goes through, and (as etcd's alarms do)
// not while the state machine has failed or a CORRUPT alarm is raised.
type healthHandler struct {
	status *nodeStatus
	reads  *readBatcher
	kv     *mvcc.Store
}

func (h healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	reason := ""
	if err := h.kv.Err(); err != nil {
		reason = "STATE MACHINE FAILED: " + err.Error()
	} else if a := corruptAlarms(h.kv.Alarms()); len(a) > 0 {
		reason = "ALARM " + strings.Join(a, ",")
	} else if !h.status.hasLeader.Load() {
		reason = "RAFT NO LEADER"
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := h.reads.read(ctx)
		cancel()
		if err != nil {
			reason = "RAFT READ INDEX: " + err.Error()
		}
	}
	body := map[string]string{"health": "true", "reason": reason}
	if reason != "" {
		body["health"] = "false"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// serveVersion answers like etcd's /version.
func serveVersion(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"etcdserver": Version, "etcdcluster": Version})
}

// corruptAlarms describes the raised CORRUPT alarms.
func corruptAlarms(alarms []*pb.AlarmMember) []string {
	var out []string
	for _, a := range alarms {
		if a.GetAlarm() == pb.AlarmType_CORRUPT {
			out = append(out, fmt.Sprintf("CORRUPT(%x)", a.GetMemberID()))
		}
	}
	return out
}
