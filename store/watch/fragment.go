package watch

import (
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// eventsField is the field number of WatchResponse.events.
const eventsField = 11

// fragment splits r into responses of at most max encoded bytes, all marked
// Fragment except the last, as etcd does for watchers created with
// fragment=true. A response that fits, or holds one event, goes whole: an
// event is never cut, so one larger than max is sent alone and oversized.
func fragment(r *etcdserverpb.WatchResponse, max int) []*etcdserverpb.WatchResponse {
	if len(r.Events) < 2 || proto.Size(r) < max {
		return []*etcdserverpb.WatchResponse{r}
	}
	var out []*etcdserverpb.WatchResponse
	evs := r.Events
	for len(evs) > 0 {
		f := &etcdserverpb.WatchResponse{
			Header:          proto.CloneOf(r.Header),
			WatchId:         r.WatchId,
			CompactRevision: r.CompactRevision,
			Fragment:        true,
		}
		size := proto.Size(f)
		n := 0
		for n < len(evs) {
			es := protowire.SizeTag(eventsField) + protowire.SizeBytes(proto.Size(evs[n]))
			if n > 0 && size+es >= max {
				break
			}
			size += es
			n++
		}
		f.Events = evs[:n:n]
		evs = evs[n:]
		out = append(out, f)
	}
	out[len(out)-1].Fragment = false
	return out
}
