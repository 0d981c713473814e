package store

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// healthHandler answers like etcd's /health: healthy when there is a
// leader and a linearizable read goes through.
type healthHandler struct {
	status *nodeStatus
	reads  *readBatcher
}

func (h healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	reason := ""
	if !h.status.hasLeader.Load() {
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
