package store

import (
	"testing"

	"go.etcd.io/etcd/api/v3/membershippb"
	"google.golang.org/grpc/connectivity"
)

// TestPeerConnFollowsPublishedURL checks that a member that publishes a
// new client URL (it restarted on another port) is reached there, and the
// connection to its old URL is closed: a connection kept for the old URL
// would fail every forwarded request and corruption check for good.
func TestPeerConnFollowsPublishedURL(t *testing.T) {
	ms := newMembers([]Member{{Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}}}, "tok")
	id := ms.ids()[0]
	pc := newPeerConns(&nodeStatus{}, ms, nil)
	defer pc.close()
	if _, err := pc.conn(id); err == nil {
		t.Fatal("conn to a member that has published no client URL succeeded")
	}
	publish := func(u string) {
		ms.setAttrs(&membershippb.ClusterMemberAttrSetRequest{Member_ID: id, MemberAttributes: &membershippb.Attributes{Name: "a", ClientUrls: []string{u}}})
	}
	publish("http://127.0.0.1:1")
	first, err := pc.conn(id)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := pc.conn(id); again != first {
		t.Fatal("a second conn at the same URL made a new connection")
	}
	publish("http://127.0.0.1:2")
	second, err := pc.conn(id)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || second.Target() != "passthrough:///127.0.0.1:2" {
		t.Fatalf("after the URL changed, conn = %s (same: %v), want a connection to 127.0.0.1:2", second.Target(), second == first)
	}
	if s := first.GetState(); s != connectivity.Shutdown {
		t.Fatalf("the connection to the old URL is %v, want closed", s)
	}
}
