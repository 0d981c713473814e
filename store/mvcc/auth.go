package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// The auth buckets, named as etcd names them: whether authentication is
// enabled and the auth revision, the users and the roles. They go through
// raft like every other request, so every member holds the same ones, and
// they travel in snapshots.
var (
	bucketAuth      = []byte("auth")
	bucketAuthUsers = []byte("authUsers")
	bucketAuthRoles = []byte("authRoles")

	authEnabledKey  = []byte("authEnabled")
	authRevisionKey = []byte("authRevision")
)

// RootUser and RootRole are etcd's special user and role: authentication
// can be enabled only once the root user exists with the root role, and a
// user with the root role may do anything.
const (
	RootUser = "root"
	RootRole = "root"
)

// authState is the auth store in memory, guarded by Store.mu. Every
// change bumps rev and rebuilds perms, so readers only read. on and
// revision mirror enabled and rev for readers that take no lock: every
// client request asks whether authentication is on.
type authState struct {
	on       atomic.Bool
	revision atomic.Uint64

	enabled bool
	rev     uint64
	users   map[string]*authpb.User
	roles   map[string]*authpb.Role
	// perms holds each user's key ranges, merged over its roles.
	perms map[string]*userPerms
}

// keySpan is the key range [start, end); a nil end is unbounded.
type keySpan struct{ start, end []byte }

// userPerms is what one user may read and write: sorted, disjoint,
// non-adjacent spans.
type userPerms struct {
	root        bool
	read, write []keySpan
}

// loadAuthLocked reads the auth buckets; a file without them has
// authentication disabled at auth revision 1, as a new etcd has.
func (s *Store) loadAuthLocked(tx *bbolt.Tx) error {
	a := &s.auth
	a.enabled, a.rev, a.users, a.roles = false, 1, map[string]*authpb.User{}, map[string]*authpb.Role{}
	if b := tx.Bucket(bucketAuth); b != nil {
		if v := b.Get(authEnabledKey); len(v) == 1 {
			s.auth.enabled = v[0] == 1
		}
		if v := b.Get(authRevisionKey); v != nil {
			n, ok := bytesU64(v)
			if !ok {
				return fmt.Errorf("%w: auth revision %x", ErrCorrupt, v)
			}
			s.auth.rev = n
		}
	}
	if b := tx.Bucket(bucketAuthUsers); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			u := &authpb.User{}
			if err := proto.Unmarshal(v, u); err != nil {
				return fmt.Errorf("%w: user %q: %v", ErrCorrupt, k, err)
			}
			s.auth.users[string(k)] = u
			return nil
		})
		if err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketAuthRoles); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			r := &authpb.Role{}
			if err := proto.Unmarshal(v, r); err != nil {
				return fmt.Errorf("%w: role %q: %v", ErrCorrupt, k, err)
			}
			s.auth.roles[string(k)] = r
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.auth.rebuild()
	return nil
}

// isAuthRequest reports whether r is a request of the Auth service.
func isAuthRequest(r *etcdserverpb.InternalRaftRequest) bool {
	return r.Authenticate != nil || r.AuthEnable != nil || r.AuthDisable != nil || r.AuthStatus != nil ||
		r.AuthUserAdd != nil || r.AuthUserDelete != nil || r.AuthUserGet != nil || r.AuthUserList != nil ||
		r.AuthUserChangePassword != nil || r.AuthUserGrantRole != nil || r.AuthUserRevokeRole != nil ||
		r.AuthRoleAdd != nil || r.AuthRoleDelete != nil || r.AuthRoleGet != nil || r.AuthRoleList != nil ||
		r.AuthRoleGrantPermission != nil || r.AuthRoleRevokePermission != nil
}

// needAdmin reports whether r may be made only by a user with the root
// role while authentication is enabled, as in etcd.
func needAdmin(r *etcdserverpb.InternalRaftRequest) bool {
	return r.AuthEnable != nil || r.AuthDisable != nil || r.AuthStatus != nil ||
		r.AuthUserAdd != nil || r.AuthUserDelete != nil || r.AuthUserList != nil ||
		r.AuthUserChangePassword != nil || r.AuthUserGrantRole != nil || r.AuthUserRevokeRole != nil ||
		r.AuthRoleAdd != nil || r.AuthRoleDelete != nil || r.AuthRoleList != nil ||
		r.AuthRoleGrantPermission != nil || r.AuthRoleRevokePermission != nil
}

// authLocked applies a request of the Auth service. None takes a revision
// of the key space; every change bumps the auth revision.
func (s *Store) authLocked(r *etcdserverpb.InternalRaftRequest) (proto.Message, error) {
	h := header(s.rev.Load())
	a := &s.auth
	switch {
	case r.Authenticate != nil:
		if !a.enabled {
			return nil, ErrAuthNotEnabled
		}
		if a.users[r.Authenticate.Name] == nil {
			return nil, fmt.Errorf("authenticate %q: %w", r.Authenticate.Name, ErrAuthFailed)
		}
		return &etcdserverpb.AuthenticateResponse{Header: h}, nil
	case r.AuthStatus != nil:
		return &etcdserverpb.AuthStatusResponse{Header: h, Enabled: a.enabled, AuthRevision: a.rev}, nil
	case r.AuthEnable != nil:
		if a.enabled {
			return &etcdserverpb.AuthEnableResponse{Header: h}, nil
		}
		root := a.users[RootUser]
		if root == nil {
			return nil, ErrRootUserNotExist
		}
		if !slices.Contains(root.Roles, RootRole) {
			return nil, ErrRootRoleNotExist
		}
		return &etcdserverpb.AuthEnableResponse{Header: h}, s.setAuthEnabledLocked(true)
	case r.AuthDisable != nil:
		if !a.enabled {
			return &etcdserverpb.AuthDisableResponse{Header: h}, nil
		}
		return &etcdserverpb.AuthDisableResponse{Header: h}, s.setAuthEnabledLocked(false)
	case r.AuthUserAdd != nil:
		q := r.AuthUserAdd
		if q.Name == "" {
			return nil, ErrUserEmpty
		}
		if a.users[q.Name] != nil {
			return nil, fmt.Errorf("user %q: %w", q.Name, ErrUserAlreadyExist)
		}
		u := &authpb.User{Name: []byte(q.Name), Password: []byte(q.HashedPassword), Options: q.Options}
		if u.Options == nil {
			u.Options = &authpb.UserAddOptions{}
		}
		return &etcdserverpb.AuthUserAddResponse{Header: h}, s.putUserLocked(u)
	case r.AuthUserDelete != nil:
		name := r.AuthUserDelete.Name
		if a.enabled && name == RootUser {
			return nil, fmt.Errorf("delete user %q: %w", name, ErrInvalidAuthMgmt)
		}
		if a.users[name] == nil {
			return nil, fmt.Errorf("user %q: %w", name, ErrUserNotFound)
		}
		return &etcdserverpb.AuthUserDeleteResponse{Header: h}, s.deleteUserLocked(name)
	case r.AuthUserChangePassword != nil:
		q := r.AuthUserChangePassword
		u := a.users[q.Name]
		if u == nil {
			return nil, fmt.Errorf("user %q: %w", q.Name, ErrUserNotFound)
		}
		nu := proto.CloneOf(u)
		nu.Password = []byte(q.HashedPassword)
		return &etcdserverpb.AuthUserChangePasswordResponse{Header: h}, s.putUserLocked(nu)
	case r.AuthUserGrantRole != nil:
		q := r.AuthUserGrantRole
		u := a.users[q.User]
		if u == nil {
			return nil, fmt.Errorf("user %q: %w", q.User, ErrUserNotFound)
		}
		if q.Role != RootRole && a.roles[q.Role] == nil {
			return nil, fmt.Errorf("role %q: %w", q.Role, ErrRoleNotFound)
		}
		i, found := slices.BinarySearch(u.Roles, q.Role)
		if found {
			return &etcdserverpb.AuthUserGrantRoleResponse{Header: h}, nil
		}
		nu := proto.CloneOf(u)
		nu.Roles = slices.Insert(slices.Clone(u.Roles), i, q.Role)
		return &etcdserverpb.AuthUserGrantRoleResponse{Header: h}, s.putUserLocked(nu)
	case r.AuthUserRevokeRole != nil:
		q := r.AuthUserRevokeRole
		if a.enabled && q.Name == RootUser && q.Role == RootRole {
			return nil, fmt.Errorf("revoke role %q from %q: %w", q.Role, q.Name, ErrInvalidAuthMgmt)
		}
		u := a.users[q.Name]
		if u == nil {
			return nil, fmt.Errorf("user %q: %w", q.Name, ErrUserNotFound)
		}
		i, found := slices.BinarySearch(u.Roles, q.Role)
		if !found {
			return nil, fmt.Errorf("role %q of user %q: %w", q.Role, q.Name, ErrRoleNotGranted)
		}
		nu := proto.CloneOf(u)
		nu.Roles = slices.Delete(slices.Clone(u.Roles), i, i+1)
		return &etcdserverpb.AuthUserRevokeRoleResponse{Header: h}, s.putUserLocked(nu)
	case r.AuthUserGet != nil:
		u := a.users[r.AuthUserGet.Name]
		if u == nil {
			return nil, fmt.Errorf("user %q: %w", r.AuthUserGet.Name, ErrUserNotFound)
		}
		return &etcdserverpb.AuthUserGetResponse{Header: h, Roles: slices.Clone(u.Roles)}, nil
	case r.AuthUserList != nil:
		return &etcdserverpb.AuthUserListResponse{Header: h, Users: sortedKeys(a.users)}, nil
	case r.AuthRoleAdd != nil:
		name := r.AuthRoleAdd.Name
		if name == "" {
			return nil, ErrRoleEmpty
		}
		if a.roles[name] != nil {
			return nil, fmt.Errorf("role %q: %w", name, ErrRoleAlreadyExist)
		}
		return &etcdserverpb.AuthRoleAddResponse{Header: h}, s.putRoleLocked(&authpb.Role{Name: []byte(name)})
	case r.AuthRoleDelete != nil:
		return s.deleteRoleLocked(h, r.AuthRoleDelete.Role)
	case r.AuthRoleGet != nil:
		role := a.roles[r.AuthRoleGet.Role]
		if role == nil {
			return nil, fmt.Errorf("role %q: %w", r.AuthRoleGet.Role, ErrRoleNotFound)
		}
		resp := &etcdserverpb.AuthRoleGetResponse{Header: h}
		for _, p := range role.KeyPermission {
			resp.Perm = append(resp.Perm, proto.CloneOf(p))
		}
		return resp, nil
	case r.AuthRoleList != nil:
		return &etcdserverpb.AuthRoleListResponse{Header: h, Roles: sortedKeys(a.roles)}, nil
	case r.AuthRoleGrantPermission != nil:
		q := r.AuthRoleGrantPermission
		role := a.roles[q.Name]
		if role == nil {
			return nil, fmt.Errorf("role %q: %w", q.Name, ErrRoleNotFound)
		}
		if q.Perm == nil {
			return nil, fmt.Errorf("%w: grant permission to role %q without a permission", ErrUnsupported, q.Name)
		}
		nr := proto.CloneOf(role)
		i := sort.Search(len(nr.KeyPermission), func(i int) bool {
			return bytes.Compare(nr.KeyPermission[i].Key, q.Perm.Key) >= 0
		})
		if i < len(nr.KeyPermission) && bytes.Equal(nr.KeyPermission[i].Key, q.Perm.Key) &&
			bytes.Equal(nr.KeyPermission[i].RangeEnd, q.Perm.RangeEnd) {
			nr.KeyPermission[i].PermType = q.Perm.PermType
		} else {
			nr.KeyPermission = append(nr.KeyPermission, &authpb.Permission{
				PermType: q.Perm.PermType, Key: bytes.Clone(q.Perm.Key), RangeEnd: bytes.Clone(q.Perm.RangeEnd),
			})
			slices.SortStableFunc(nr.KeyPermission, func(x, y *authpb.Permission) int { return bytes.Compare(x.Key, y.Key) })
		}
		return &etcdserverpb.AuthRoleGrantPermissionResponse{Header: h}, s.putRoleLocked(nr)
	case r.AuthRoleRevokePermission != nil:
		q := r.AuthRoleRevokePermission
		role := a.roles[q.Role]
		if role == nil {
			return nil, fmt.Errorf("role %q: %w", q.Role, ErrRoleNotFound)
		}
		i := slices.IndexFunc(role.KeyPermission, func(p *authpb.Permission) bool {
			return bytes.Equal(p.Key, q.Key) && bytes.Equal(p.RangeEnd, q.RangeEnd)
		})
		if i < 0 {
			return nil, fmt.Errorf("key %q of role %q: %w", q.Key, q.Role, ErrPermissionNotGranted)
		}
		nr := proto.CloneOf(role)
		nr.KeyPermission = slices.Delete(nr.KeyPermission, i, i+1)
		return &etcdserverpb.AuthRoleRevokePermissionResponse{Header: h}, s.putRoleLocked(nr)
	}
	return nil, fmt.Errorf("%w: auth request %d", ErrUnsupported, r.ID)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *Store) deleteRoleLocked(h *etcdserverpb.ResponseHeader, name string) (proto.Message, error) {
	a := &s.auth
	if a.enabled && name == RootRole {
		return nil, fmt.Errorf("delete role %q: %w", name, ErrInvalidAuthMgmt)
	}
	if a.roles[name] == nil {
		return nil, fmt.Errorf("role %q: %w", name, ErrRoleNotFound)
	}
	if err := s.authRolesB.Delete([]byte(name)); err != nil {
		return nil, s.fail(fmt.Errorf("%w: delete role %q: %w", ErrBackend, name, err))
	}
	s.pending++
	delete(a.roles, name)
	// Users that had the role lose it, as in etcd.
	for _, u := range a.users {
		if i, found := slices.BinarySearch(u.Roles, name); found {
			nu := proto.CloneOf(u)
			nu.Roles = slices.Delete(slices.Clone(u.Roles), i, i+1)
			if err := s.writeUserLocked(nu); err != nil {
				return nil, err
			}
		}
	}
	return &etcdserverpb.AuthRoleDeleteResponse{Header: h}, s.bumpAuthLocked()
}

func (s *Store) writeUserLocked(u *authpb.User) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(u)
	if err != nil {
		return fmt.Errorf("%w: encode user %q: %v", ErrCorrupt, u.Name, err)
	}
	if err := s.authUsersB.Put(bytes.Clone(u.Name), v); err != nil {
		return s.fail(fmt.Errorf("%w: write user %q: %w", ErrBackend, u.Name, err))
	}
	s.pending++
	s.auth.users[string(u.Name)] = u
	return nil
}

func (s *Store) putUserLocked(u *authpb.User) error {
	if err := s.writeUserLocked(u); err != nil {
		return err
	}
	return s.bumpAuthLocked()
}

func (s *Store) deleteUserLocked(name string) error {
	if err := s.authUsersB.Delete([]byte(name)); err != nil {
		return s.fail(fmt.Errorf("%w: delete user %q: %w", ErrBackend, name, err))
	}
	s.pending++
	delete(s.auth.users, name)
	return s.bumpAuthLocked()
}

func (s *Store) putRoleLocked(r *authpb.Role) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: encode role %q: %v", ErrCorrupt, r.Name, err)
	}
	if err := s.authRolesB.Put(bytes.Clone(r.Name), v); err != nil {
		return s.fail(fmt.Errorf("%w: write role %q: %w", ErrBackend, r.Name, err))
	}
	s.pending++
	s.auth.roles[string(r.Name)] = r
	return s.bumpAuthLocked()
}

func (s *Store) setAuthEnabledLocked(on bool) error {
	v := []byte{0}
	if on {
		v[0] = 1
	}
	if err := s.authB.Put(authEnabledKey, v); err != nil {
		return s.fail(fmt.Errorf("%w: write auth enabled: %w", ErrBackend, err))
	}
	s.pending++
	s.auth.enabled = on
	return s.bumpAuthLocked()
}

// bumpAuthLocked records one more change of the auth store and rebuilds
// the users' permissions from it.
func (s *Store) bumpAuthLocked() error {
	s.auth.rev++
	if err := s.authB.Put(authRevisionKey, binary.BigEndian.AppendUint64(nil, s.auth.rev)); err != nil {
		return s.fail(fmt.Errorf("%w: write auth revision: %w", ErrBackend, err))
	}
	s.pending++
	s.auth.rebuild()
	return nil
}

// rebuild computes every user's permissions from its roles: a user with
// the root role may do anything; otherwise a permission with an empty
// range end covers its key alone, one with range end "\x00" every key from
// its key on.
func (a *authState) rebuild() {
	a.on.Store(a.enabled)
	a.revision.Store(a.rev)
	a.perms = make(map[string]*userPerms, len(a.users))
	for name, u := range a.users {
		p := &userPerms{}
		for _, rn := range u.Roles {
			if rn == RootRole {
				p.root = true
				continue
			}
			role := a.roles[rn]
			if role == nil {
				continue
			}
			for _, kp := range role.KeyPermission {
				sp := keySpan{start: kp.Key}
				switch {
				case len(kp.RangeEnd) == 0:
					sp.end = append(bytes.Clone(kp.Key), 0)
				case isUnbounded(kp.RangeEnd):
				default:
					sp.end = kp.RangeEnd
				}
				if kp.PermType == authpb.READ || kp.PermType == authpb.READWRITE {
					p.read = append(p.read, sp)
				}
				if kp.PermType == authpb.WRITE || kp.PermType == authpb.READWRITE {
					p.write = append(p.write, sp)
				}
			}
		}
		p.read, p.write = mergeSpans(p.read), mergeSpans(p.write)
		a.perms[name] = p
	}
}

func isUnbounded(end []byte) bool { return len(end) == 1 && end[0] == 0 }

// endLess orders range ends, nil (unbounded) last.
func endLess(a, b []byte) bool {
	switch {
	case b == nil:
		return a != nil
	case a == nil:
		return false
	}
	return bytes.Compare(a, b) < 0
}

// mergeSpans sorts spans and merges those that overlap or touch.
func mergeSpans(in []keySpan) []keySpan {
	in = slices.DeleteFunc(in, func(s keySpan) bool { return s.end != nil && bytes.Compare(s.start, s.end) >= 0 })
	slices.SortFunc(in, func(x, y keySpan) int { return bytes.Compare(x.start, y.start) })
	var out []keySpan
	for _, sp := range in {
		if n := len(out); n > 0 && (out[n-1].end == nil || bytes.Compare(sp.start, out[n-1].end) <= 0) {
			if endLess(out[n-1].end, sp.end) {
				out[n-1].end = sp.end
			}
			continue
		}
		out = append(out, sp)
	}
	return out
}

// covers reports whether spans cover the request's keys: key alone when
// end is empty, every key from key on when end is "\x00", else [key, end).
func covers(spans []keySpan, key, end []byte) bool {
	i := sort.Search(len(spans), func(i int) bool { return bytes.Compare(spans[i].start, key) > 0 }) - 1
	if i < 0 {
		return false
	}
	sp := spans[i]
	if sp.end != nil && bytes.Compare(key, sp.end) >= 0 {
		return false
	}
	switch {
	case len(end) == 0:
		return true
	case isUnbounded(end):
		return sp.end == nil
	}
	return !endLess(sp.end, end)
}

// AuthEnabled reports whether authentication is enabled.
func (s *Store) AuthEnabled() bool { return s.auth.on.Load() }

// AuthRevision is the auth revision: it starts at 1 and grows with every
// change of the auth store.
func (s *Store) AuthRevision() uint64 { return s.auth.revision.Load() }

// UserPassword returns the stored bcrypt hash of user's password and the
// auth revision it was read at. A user that does not exist, or was added
// without a password, fails with ErrAuthFailed.
func (s *Store) UserPassword(user string) ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.auth.users[user]
	if u == nil || (u.Options != nil && u.Options.NoPassword) {
		return nil, 0, fmt.Errorf("user %q: %w", user, ErrAuthFailed)
	}
	return u.Password, s.auth.rev, nil
}

// IsRangePermitted checks that user, authorised at auth revision rev, may
// read the keys of a range request (key, end), as etcd's auth store does.
// With authentication disabled everything is permitted.
func (s *Store) IsRangePermitted(user string, rev uint64, key, end []byte) error {
	if !s.auth.on.Load() {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isOpPermittedLocked(user, rev, key, end, authpb.READ)
}

// IsAdminPermitted checks that user has the root role.
func (s *Store) IsAdminPermitted(user string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.isAdminLocked(user)
}

func (s *Store) isAdminLocked(user string) error {
	if !s.auth.enabled {
		return nil
	}
	if user == "" {
		return ErrUserEmpty
	}
	p := s.auth.perms[user]
	if p == nil {
		return fmt.Errorf("user %q: %w", user, ErrUserNotFound)
	}
	if !p.root {
		return fmt.Errorf("user %q is not root: %w", user, ErrPermissionDenied)
	}
	return nil
}

func (s *Store) isOpPermittedLocked(user string, rev uint64, key, end []byte, typ authpb.Permission_Type) error {
	a := &s.auth
	if !a.enabled {
		return nil
	}
	if rev == 0 {
		return ErrUserEmpty
	}
	if rev < a.rev {
		return fmt.Errorf("auth revision %d < %d: %w", rev, a.rev, ErrAuthOldRevision)
	}
	p := a.perms[user]
	if p == nil {
		return fmt.Errorf("user %q does not exist: %w", user, ErrPermissionDenied)
	}
	if p.root {
		return nil
	}
	spans := p.read
	if typ == authpb.WRITE {
		spans = p.write
	}
	if covers(spans, key, end) {
		return nil
	}
	return fmt.Errorf("user %q, %v %q-%q: %w", user, typ, key, end, ErrPermissionDenied)
}

// checkAuthLocked refuses a request its user may not make, as etcd's auth
// applier does, against the auth store as of this entry: the writes, the
// reads inside them, the lease revocations that delete keys and the
// administration of the auth store itself. A request without a header
// comes from the members themselves (lease expiry, attributes, alarms)
// and is not checked.
func (s *Store) checkAuthLocked(r *etcdserverpb.InternalRaftRequest) error {
	h := r.Header
	if h == nil || !s.auth.enabled {
		return nil
	}
	user, rev := h.Username, h.AuthRevision
	switch {
	case needAdmin(r):
		return s.isAdminLocked(user)
	case r.AuthUserGet != nil:
		if err := s.isAdminLocked(user); err != nil && r.AuthUserGet.Name != user {
			return err
		}
	case r.AuthRoleGet != nil:
		if err := s.isAdminLocked(user); err != nil {
			if u := s.auth.users[user]; u == nil || !slices.Contains(u.Roles, r.AuthRoleGet.Role) {
				return err
			}
		}
	case r.Put != nil:
		return s.checkPutPermLocked(user, rev, r.Put, true)
	case r.DeleteRange != nil:
		return s.checkDeletePermLocked(user, rev, r.DeleteRange)
	case r.Txn != nil:
		return s.checkTxnPermLocked(user, rev, r.Txn)
	case r.LeaseRevoke != nil:
		return s.checkLeasePutsLocked(user, rev, r.LeaseRevoke.ID)
	}
	return nil
}

func (s *Store) checkPutPermLocked(user string, rev uint64, p *etcdserverpb.PutRequest, leases bool) error {
	if err := s.isOpPermittedLocked(user, rev, p.Key, nil, authpb.WRITE); err != nil {
		return err
	}
	if leases && p.Lease != 0 {
		// A user who could not revoke the lease (every key attached to it
		// must be writable) may not attach a key to it either.
		if err := s.checkLeasePutsLocked(user, rev, p.Lease); err != nil {
			return err
		}
	}
	if p.PrevKv {
		return s.isOpPermittedLocked(user, rev, p.Key, nil, authpb.READ)
	}
	return nil
}

func (s *Store) checkDeletePermLocked(user string, rev uint64, d *etcdserverpb.DeleteRangeRequest) error {
	if err := s.isOpPermittedLocked(user, rev, d.Key, d.RangeEnd, authpb.WRITE); err != nil {
		return err
	}
	if d.PrevKv {
		return s.isOpPermittedLocked(user, rev, d.Key, d.RangeEnd, authpb.READ)
	}
	return nil
}

// checkTxnPermLocked checks every compare (a read of its key range) and
// every op of both branches, nested txns included.
func (s *Store) checkTxnPermLocked(user string, rev uint64, t *etcdserverpb.TxnRequest) error {
	for _, c := range t.Compare {
		if err := s.isOpPermittedLocked(user, rev, c.Key, c.RangeEnd, authpb.READ); err != nil {
			return err
		}
	}
	for _, ops := range [][]*etcdserverpb.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			var err error
			switch {
			case op.GetRequestRange() != nil:
				rr := op.GetRequestRange()
				err = s.isOpPermittedLocked(user, rev, rr.Key, rr.RangeEnd, authpb.READ)
			case op.GetRequestPut() != nil:
				err = s.checkPutPermLocked(user, rev, op.GetRequestPut(), false)
			case op.GetRequestDeleteRange() != nil:
				err = s.checkDeletePermLocked(user, rev, op.GetRequestDeleteRange())
			case op.GetRequestTxn() != nil:
				err = s.checkTxnPermLocked(user, rev, op.GetRequestTxn())
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLeasePutsLocked checks that user may write every key attached to
// lease id: revoking it deletes them.
func (s *Store) checkLeasePutsLocked(user string, rev uint64, id int64) error {
	l := s.leases[id]
	if l == nil {
		return nil
	}
	for _, k := range l.info().Keys {
		if err := s.isOpPermittedLocked(user, rev, k, nil, authpb.WRITE); err != nil {
			return err
		}
	}
	return nil
}
