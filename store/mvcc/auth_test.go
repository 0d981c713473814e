package mvcc

import (
	"errors"
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func userAdd(name string) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthUserAdd: &pb.AuthUserAddRequest{Name: name, HashedPassword: "hash-of-" + name}}
}

func roleAdd(name string) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: name}}
}

func grantRole(user, role string) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: user, Role: role}}
}

func grantPerm(role string, typ authpb.Permission_Type, key, end string) *pb.InternalRaftRequest {
	p := &authpb.Permission{PermType: typ, Key: []byte(key)}
	if end != "" {
		p.RangeEnd = []byte(end)
	}
	return &pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: role, Perm: p}}
}

func authEnable() *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}}
}

// as gives r the header of a client request made by user at the store's
// current auth revision; user "" is a client without a token.
func as(h *harness, user string, r *pb.InternalRaftRequest) *pb.InternalRaftRequest {
	r.Header = &pb.RequestHeader{}
	if user != "" {
		r.Header.Username, r.Header.AuthRevision = user, h.s.AuthRevision()
	}
	return r
}

// authHarness sets up root (root role) and alice, whose role "app" may read
// "cfg", read and write the prefix "app/", write [w1, w5) and read every key
// from "z" on; "app/lk" is attached to a lease, "w2" to another.
func authHarness(t *testing.T) *harness {
	h := newHarness(t, nil)
	for _, r := range []*pb.InternalRaftRequest{
		userAdd("root"), roleAdd("root"), grantRole("root", "root"),
		userAdd("alice"), roleAdd("app"), grantRole("alice", "app"),
		grantPerm("app", authpb.READ, "cfg", ""),
		grantPerm("app", authpb.READWRITE, "app/", "app0"),
		grantPerm("app", authpb.WRITE, "w1", "w5"),
		grantPerm("app", authpb.READ, "z", "\x00"),
		{LeaseGrant: &pb.LeaseGrantRequest{ID: 7, TTL: 60}},
		{LeaseGrant: &pb.LeaseGrantRequest{ID: 8, TTL: 60}},
		{Put: &pb.PutRequest{Key: []byte("app/lk"), Lease: 7}},
		{Put: &pb.PutRequest{Key: []byte("w2"), Lease: 8}},
		{Put: &pb.PutRequest{Key: []byte("secret"), Lease: 8}},
		authEnable(),
	} {
		h.must(r)
	}
	if !h.s.AuthEnabled() {
		t.Fatal("auth is not enabled")
	}
	return h
}

// TestAuthPermissions checks every request the state machine checks, as
// its user, allowed and denied.
func TestAuthPermissions(t *testing.T) {
	put := func(k string) *pb.PutRequest { return &pb.PutRequest{Key: []byte(k), Value: []byte("v")} }
	txn := func(cmp []*pb.Compare, succ, fail []*pb.RequestOp) *pb.InternalRaftRequest {
		return txnReq(&pb.TxnRequest{Compare: cmp, Success: succ, Failure: fail})
	}
	cmpKey := func(k, end string) []*pb.Compare {
		c := &pb.Compare{Key: []byte(k), Target: pb.Compare_VERSION, Result: pb.Compare_GREATER}
		if end != "" {
			c.RangeEnd = []byte(end)
		}
		return []*pb.Compare{c}
	}
	tests := []struct {
		name string
		user string
		req  *pb.InternalRaftRequest
		want error
	}{
		{"put in a prefix", "alice", &pb.InternalRaftRequest{Put: put("app/x")}, nil},
		{"put outside", "alice", &pb.InternalRaftRequest{Put: put("cfg")}, ErrPermissionDenied},
		{"put in a write-only range", "alice", &pb.InternalRaftRequest{Put: put("w4")}, nil},
		{"put past a range end", "alice", &pb.InternalRaftRequest{Put: put("w5")}, ErrPermissionDenied},
		{"put with prev kv on write-only", "alice", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("w3"), PrevKv: true}}, ErrPermissionDenied},
		{"put with prev kv on read-write", "alice", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("app/p"), PrevKv: true}}, nil},
		{"put attaching a lease whose keys are writable", "alice", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("app/l2"), Lease: 7}}, nil},
		{"put attaching a lease with a key not writable", "alice", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("app/l3"), Lease: 8}}, ErrPermissionDenied},
		{"root puts anything", "root", &pb.InternalRaftRequest{Put: put("secret2")}, nil},
		{"no user", "", &pb.InternalRaftRequest{Put: put("app/x")}, ErrUserEmpty},
		{"unknown user", "mallory", &pb.InternalRaftRequest{Put: put("app/x")}, ErrPermissionDenied},
		{"delete a writable range", "alice", delReq("w1", "w5"), ErrPermissionDenied}, // prev kv needs read too
		{"delete a writable range without prev kv", "alice", &pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: []byte("w1"), RangeEnd: []byte("w5")}}, nil},
		{"delete past the range", "alice", &pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: []byte("w1"), RangeEnd: []byte("w6")}}, ErrPermissionDenied},
		{"delete a prefix with prev kv", "alice", delReq("app/", "app0"), nil},
		{"txn within permissions", "alice", txn(cmpKey("cfg", ""), []*pb.RequestOp{opPut("app/a", "1"), opGet("z1", "\x00")}, []*pb.RequestOp{opDel("w2", "")}), nil},
		{"txn compare not readable", "alice", txn(cmpKey("w2", ""), nil, nil), ErrPermissionDenied},
		{"txn compare over a range", "alice", txn(cmpKey("app/", "app0"), nil, nil), nil},
		{"txn compare over a wider range", "alice", txn(cmpKey("app", "app0"), nil, nil), ErrPermissionDenied},
		{"txn failure branch write denied", "alice", txn(nil, nil, []*pb.RequestOp{opPut("cfg", "x")}), ErrPermissionDenied},
		{"txn read not permitted", "alice", txn(nil, []*pb.RequestOp{opGet("w2", "")}, nil), ErrPermissionDenied},
		{"nested txn denied", "alice", txn(nil, []*pb.RequestOp{opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opDel("cfg", "")}})}, nil), ErrPermissionDenied},
		{"nested txn allowed", "alice", txn(nil, []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("app/n", "1")}})}, nil), nil},
		{"revoke a lease with writable keys", "alice", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 7}}, nil},
		{"revoke a lease with a key not writable", "alice", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 8}}, ErrPermissionDenied},
		{"user add needs root", "alice", userAdd("bob"), ErrPermissionDenied},
		{"user add by root", "root", userAdd("bob"), nil},
		{"user add without a user", "", userAdd("bob"), ErrUserEmpty},
		{"role grant needs root", "alice", grantPerm("app", authpb.READ, "x", ""), ErrPermissionDenied},
		{"auth disable needs root", "alice", &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}, ErrPermissionDenied},
		{"user list needs root", "alice", &pb.InternalRaftRequest{AuthUserList: &pb.AuthUserListRequest{}}, ErrPermissionDenied},
		{"user get of oneself", "alice", &pb.InternalRaftRequest{AuthUserGet: &pb.AuthUserGetRequest{Name: "alice"}}, nil},
		{"user get of another", "alice", &pb.InternalRaftRequest{AuthUserGet: &pb.AuthUserGetRequest{Name: "root"}}, ErrPermissionDenied},
		{"role get of one's role", "alice", &pb.InternalRaftRequest{AuthRoleGet: &pb.AuthRoleGetRequest{Role: "app"}}, nil},
		{"role get of another role", "alice", &pb.InternalRaftRequest{AuthRoleGet: &pb.AuthRoleGetRequest{Role: "root"}}, ErrPermissionDenied},
		{"lease grant is not checked", "alice", &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 9, TTL: 5}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := authHarness(t)
			rev := h.s.Rev()
			_, err := h.apply(as(h, tt.user, tt.req))
			wantErr(t, err, tt.want)
			if tt.want != nil && h.s.Rev() != rev {
				t.Fatalf("a refused request moved the revision from %d to %d", rev, h.s.Rev())
			}
		})
	}
}

// TestAuthReadPermissions checks the reads the API layer asks the store
// about: single keys, ranges, prefixes and ranges to the end of the keys.
func TestAuthReadPermissions(t *testing.T) {
	h := authHarness(t)
	rev := h.s.AuthRevision()
	tests := []struct {
		name     string
		user     string
		rev      uint64
		key, end string
		want     error
	}{
		{"single key", "alice", rev, "cfg", "", nil},
		{"single key not granted", "alice", rev, "cfg2", "", ErrPermissionDenied},
		{"prefix", "alice", rev, "app/", "app0", nil},
		{"key in a prefix", "alice", rev, "app/deep/key", "", nil},
		{"range wider than the prefix", "alice", rev, "app/", "app1", ErrPermissionDenied},
		{"write-only range", "alice", rev, "w2", "", ErrPermissionDenied},
		{"from a key on", "alice", rev, "z", "\x00", nil},
		{"from an earlier key on", "alice", rev, "y", "\x00", ErrPermissionDenied},
		{"range inside an unbounded permission", "alice", rev, "za", "zz", nil},
		{"root reads everything", "root", rev, "\x00", "\x00", nil},
		{"no user", "", 0, "cfg", "", ErrUserEmpty},
		{"old auth revision", "alice", rev - 1, "cfg", "", ErrAuthOldRevision},
		{"deleted or unknown user", "bob", rev, "cfg", "", ErrPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := []byte(nil)
			if tt.end != "" {
				end = []byte(tt.end)
			}
			wantErr(t, h.s.IsRangePermitted(tt.user, tt.rev, []byte(tt.key), end), tt.want)
		})
	}
	t.Run("admin", func(t *testing.T) {
		wantErr(t, h.s.IsAdminPermitted("root"), nil)
		wantErr(t, h.s.IsAdminPermitted("alice"), ErrPermissionDenied)
		wantErr(t, h.s.IsAdminPermitted(""), ErrUserEmpty)
		wantErr(t, h.s.IsAdminPermitted("bob"), ErrUserNotFound)
	})
	t.Run("disabled", func(t *testing.T) {
		h.must(as(h, "root", &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}))
		wantErr(t, h.s.IsRangePermitted("", 0, []byte("secret"), nil), nil)
		wantErr(t, h.s.IsAdminPermitted(""), nil)
		h.must(putReq("secret", "anyone"))
	})
}

// TestAuthManagement checks the auth store's own requests and their
// errors, and that only changes bump the auth revision.
func TestAuthManagement(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.s.AuthRevision(); got != 1 {
		t.Fatalf("a new store's auth revision is %d, want 1", got)
	}
	steps := []struct {
		name string
		req  *pb.InternalRaftRequest
		want error
		bump bool
	}{
		{"enable without root", authEnable(), ErrRootUserNotExist, false},
		{"add root", userAdd("root"), nil, true},
		{"add root again", userAdd("root"), ErrUserAlreadyExist, false},
		{"add without a name", userAdd(""), ErrUserEmpty, false},
		{"enable without the root role", authEnable(), ErrRootRoleNotExist, false},
		{"grant a role that does not exist", grantRole("root", "app"), ErrRoleNotFound, false},
		{"grant root before the role exists", grantRole("root", "root"), nil, true},
		{"grant it again", grantRole("root", "root"), nil, false},
		{"add a role without a name", roleAdd(""), ErrRoleEmpty, false},
		{"add role app", roleAdd("app"), nil, true},
		{"add role app again", roleAdd("app"), ErrRoleAlreadyExist, false},
		{"grant to a missing user", grantRole("bob", "app"), ErrUserNotFound, false},
		{"grant a permission", grantPerm("app", authpb.READ, "k", ""), nil, true},
		{"grant it to a missing role", grantPerm("nope", authpb.READ, "k", ""), ErrRoleNotFound, false},
		{"revoke a permission not granted", &pb.InternalRaftRequest{AuthRoleRevokePermission: &pb.AuthRoleRevokePermissionRequest{Role: "app", Key: []byte("x")}}, ErrPermissionNotGranted, false},
		{"revoke a role not granted", &pb.InternalRaftRequest{AuthUserRevokeRole: &pb.AuthUserRevokeRoleRequest{Name: "root", Role: "app"}}, ErrRoleNotGranted, false},
		{"enable", authEnable(), nil, true},
		{"enable again", as(h, "root", authEnable()), nil, false},
		{"delete root while enabled", as(h, "root", &pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: "root"}}), ErrInvalidAuthMgmt, false},
		{"delete the root role while enabled", as(h, "root", &pb.InternalRaftRequest{AuthRoleDelete: &pb.AuthRoleDeleteRequest{Role: "root"}}), ErrInvalidAuthMgmt, false},
		{"revoke root from root while enabled", as(h, "root", &pb.InternalRaftRequest{AuthUserRevokeRole: &pb.AuthUserRevokeRoleRequest{Name: "root", Role: "root"}}), ErrInvalidAuthMgmt, false},
		{"change a password", as(h, "root", &pb.InternalRaftRequest{AuthUserChangePassword: &pb.AuthUserChangePasswordRequest{Name: "root", HashedPassword: "h2"}}), nil, true},
		{"delete a role", as(h, "root", &pb.InternalRaftRequest{AuthRoleDelete: &pb.AuthRoleDeleteRequest{Role: "app"}}), nil, true},
		{"disable", as(h, "root", &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}), nil, true},
		{"disable again", &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}, nil, false},
		{"authenticate while disabled", &pb.InternalRaftRequest{Authenticate: &pb.InternalAuthenticateRequest{Name: "root"}}, ErrAuthNotEnabled, false},
	}
	for _, st := range steps {
		before := h.s.AuthRevision()
		if st.req.Header != nil && st.req.Header.Username != "" {
			st.req.Header.AuthRevision = before
		}
		_, err := h.apply(st.req)
		if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
			t.Fatalf("%s: error %v, want %v", st.name, err, st.want)
		}
		if after := h.s.AuthRevision(); (after != before) != st.bump {
			t.Fatalf("%s: auth revision %d -> %d, want a bump: %v", st.name, before, after, st.bump)
		}
	}
	// The auth store is durable and comes back after a restart.
	want := h.s.AuthRevision()
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	if got := h.s.AuthRevision(); got != want {
		t.Fatalf("auth revision after reopening is %d, want %d", got, want)
	}
	if h.s.AuthEnabled() {
		t.Fatal("auth enabled after reopening a store where it was disabled")
	}
	hash, rev, err := h.s.UserPassword("root")
	if err != nil || string(hash) != "h2" || rev != want {
		t.Fatalf("root's password after reopening: %q at %d, %v", hash, rev, err)
	}
	roles := h.must(&pb.InternalRaftRequest{AuthUserGet: &pb.AuthUserGetRequest{Name: "root"}}).(*pb.AuthUserGetResponse).Roles
	if !equalStrings(roles, []string{"root"}) {
		t.Fatalf("root's roles after the app role was deleted: %v", roles)
	}
}

// TestAuthRoleGetOrder checks that permissions come back sorted by key and
// that granting the same key range again changes its type in place.
func TestAuthRoleGetOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.must(roleAdd("r"))
	h.must(grantPerm("r", authpb.WRITE, "m", ""))
	h.must(grantPerm("r", authpb.READ, "a", "b"))
	h.must(grantPerm("r", authpb.READ, "m", ""))
	perms := h.must(&pb.InternalRaftRequest{AuthRoleGet: &pb.AuthRoleGetRequest{Role: "r"}}).(*pb.AuthRoleGetResponse).Perm
	if len(perms) != 2 || string(perms[0].Key) != "a" || string(perms[1].Key) != "m" || perms[1].PermType != authpb.READ {
		t.Fatalf("permissions: %v", perms)
	}
}

func TestCovers(t *testing.T) {
	spans := mergeSpans([]keySpan{
		{start: []byte("b"), end: []byte("d")},
		{start: []byte("d"), end: []byte("f")}, // touches the one before
		{start: []byte("k"), end: append([]byte("k"), 0)},
		{start: []byte("x")}, // unbounded
	})
	if len(spans) != 3 {
		t.Fatalf("merged spans: %q", spans)
	}
	tests := []struct {
		name     string
		key, end string
		want     bool
	}{
		{"key in a span", "c", "", true},
		{"key at a span's end", "f", "", false},
		{"range across touching spans", "b", "f", true},
		{"range past a span", "b", "g", false},
		{"point span", "k", "", true},
		{"key after a point span", "k\x00", "", false},
		{"key before everything", "a", "", false},
		{"to the end within an unbounded span", "y", "\x00", true},
		{"to the end from a bounded span", "e", "\x00", false},
		{"bounded range in an unbounded span", "xa", "zz", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var end []byte
			if tt.end != "" {
				end = []byte(tt.end)
			}
			if got := covers(spans, []byte(tt.key), end); got != tt.want {
				t.Fatalf("covers(%q, %q) = %v, want %v", tt.key, tt.end, got, tt.want)
			}
		})
	}
}
