package mvcc

import "errors"

// Sentinel errors. Apply, Range, Events and KVAt wrap them with the
// operation and ids; compare with errors.Is. The API layer maps them to
// etcd's rpctypes errors.
var (
	// ErrCompacted: the requested revision is older than the compaction
	// revision, so its history is gone.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRev: the requested revision is above the current revision.
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
	// ErrLeaseNotFound: a Put or LeaseRevoke names a lease that does not exist.
	ErrLeaseNotFound = errors.New("mvcc: lease not found")
	// ErrLeaseExist: LeaseGrant with an ID that is already granted.
	ErrLeaseExist = errors.New("mvcc: lease already exists")
	// ErrLeaseID: LeaseGrant with ID 0; the caller must choose the ID.
	ErrLeaseID = errors.New("mvcc: lease ID must be non-zero")
	// ErrKeyNotFound: a Put with ignore_value or ignore_lease on a key that
	// does not exist.
	ErrKeyNotFound = errors.New("mvcc: key not found")
	// ErrEmptyKey: a Put with an empty key.
	ErrEmptyKey = errors.New("mvcc: key is not provided")
	// ErrDuplicateKey: a Txn writes the same key more than once.
	ErrDuplicateKey = errors.New("mvcc: duplicate key given in txn request")
	// ErrNoSpace: the write would grow the data past Config.QuotaBytes.
	ErrNoSpace = errors.New("mvcc: database space exceeded")
	// ErrValueProvided: a Put with ignore_value also carries a value.
	ErrValueProvided = errors.New("mvcc: value is provided")
	// ErrLeaseProvided: a Put with ignore_lease also carries a lease.
	ErrLeaseProvided = errors.New("mvcc: lease is provided")
	// ErrAlreadyApplied: Apply was given a raft index at or below
	// ConsistentIndex; the entry was applied before and is skipped.
	ErrAlreadyApplied = errors.New("mvcc: entry already applied")
	// ErrUnsupported: an InternalRaftRequest this state machine does not
	// handle (membership changes).
	ErrUnsupported = errors.New("mvcc: unsupported request")
	// ErrCorrupt: the database file is not one this package wrote, or a
	// record in it cannot be decoded.
	ErrCorrupt = errors.New("mvcc: database corrupt")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("mvcc: store closed")
	// ErrBackend: bbolt failed to commit or begin the batch transaction,
	// or to write into it. The in-memory state is then ahead of the disk,
	// so the store fails for good (Store.Err): every later Apply and read
	// returns this error too, and the member must stop and replay its log.
	ErrBackend = errors.New("mvcc: backend failure")
	// ErrCorruptAlarm: a CORRUPT alarm is raised (the members' key spaces
	// were found to differ), so every request that would change the data
	// is refused until the alarm is deactivated.
	ErrCorruptAlarm = errors.New("mvcc: corrupt cluster")
)

// Auth errors: the requests of etcd's Auth service and the permission
// checks of every other request fail with these, as etcd's auth store
// does; the API layer maps each to its rpctypes error.
var (
	// ErrAuthNotEnabled: Authenticate while authentication is disabled.
	ErrAuthNotEnabled = errors.New("mvcc: authentication is not enabled")
	// ErrAuthFailed: an unknown user name or a wrong password.
	ErrAuthFailed = errors.New("mvcc: authentication failed, invalid user ID or password")
	// ErrRootUserNotExist: AuthEnable without a root user.
	ErrRootUserNotExist = errors.New("mvcc: root user does not exist")
	// ErrRootRoleNotExist: AuthEnable while the root user lacks the root role.
	ErrRootRoleNotExist = errors.New("mvcc: root user does not have root role")
	// ErrUserEmpty: a request without a user name, or, with authentication
	// enabled, a request that carries no user.
	ErrUserEmpty = errors.New("mvcc: user name is empty")
	// ErrUserAlreadyExist: UserAdd of a user that exists.
	ErrUserAlreadyExist = errors.New("mvcc: user name already exists")
	// ErrUserNotFound: a request naming a user that does not exist.
	ErrUserNotFound = errors.New("mvcc: user name not found")
	// ErrRoleEmpty: RoleAdd without a role name.
	ErrRoleEmpty = errors.New("mvcc: role name is empty")
	// ErrRoleAlreadyExist: RoleAdd of a role that exists.
	ErrRoleAlreadyExist = errors.New("mvcc: role name already exists")
	// ErrRoleNotFound: a request naming a role that does not exist.
	ErrRoleNotFound = errors.New("mvcc: role name not found")
	// ErrRoleNotGranted: UserRevokeRole of a role the user does not have.
	ErrRoleNotGranted = errors.New("mvcc: role is not granted to the user")
	// ErrPermissionNotGranted: RoleRevokePermission of a key range the
	// role has no permission for.
	ErrPermissionNotGranted = errors.New("mvcc: permission is not granted to the role")
	// ErrPermissionDenied: the request's user may not do what it asks.
	ErrPermissionDenied = errors.New("mvcc: permission denied")
	// ErrInvalidAuthMgmt: deleting the root user or role, or revoking the
	// root role from the root user, while authentication is enabled.
	ErrInvalidAuthMgmt = errors.New("mvcc: invalid auth management")
	// ErrAuthOldRevision: the request was authorised against an auth
	// revision older than the store's; the client must authenticate again.
	ErrAuthOldRevision = errors.New("mvcc: revision of auth store is old")
)
