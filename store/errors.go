package store

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adrbench/adrbench/store/mvcc"
)

var (
	// ErrStopped is returned to requests in flight when the server stops.
	ErrStopped = errors.New("server stopped")
	// ErrNoLeader is returned when no leader is known to forward to.
	ErrNoLeader = errors.New("no leader")
	// ErrTimeout is returned when a proposal or read was not answered in time.
	ErrTimeout = errors.New("request timed out")
	// ErrTooLarge is returned for a request above --max-request-bytes.
	ErrTooLarge = errors.New("request is too large")
	// ErrMemberMismatch is returned when a data dir belongs to another member
	// or cluster than the flags describe.
	ErrMemberMismatch = errors.New("data dir belongs to another member")
	// ErrStateMachineFailed stops a member whose state machine could not
	// apply an entry (its database failed, or the entry does not decode):
	// going on would serve reads that miss acknowledged writes.
	ErrStateMachineFailed = errors.New("state machine failed")
	// ErrDatabaseBehind is returned at start when the state machine's
	// database is older than the raft log's snapshot: the entries between
	// them are gone from the log, so the member cannot catch up from it.
	ErrDatabaseBehind = errors.New("state machine database is behind the raft log")
	// ErrSnapshotHash is returned when a snapshot's data does not match the
	// sha256 its sender appended.
	ErrSnapshotHash = errors.New("snapshot sha256 mismatch")
	// ErrCorruptData is returned at start when the initial corruption
	// check finds a member whose key space differs from this member's at
	// the same revision and compaction.
	ErrCorruptData = errors.New("found data inconsistency with peers")
	// ErrRaftInconsistent stops a member whose raft state contradicts what
	// raft requires of it, such as a leader counting entries as stored on
	// this member that its log does not have (its data dir was removed or
	// restored from an older copy): going on could lose committed writes.
	ErrRaftInconsistent = errors.New("raft found this member's log inconsistent with the cluster")
)

// toGRPC maps an error to the gRPC status etcd returns for it, so that
// clients (etcdctl, clientv3) print and retry exactly as they do against
// etcd. Errors that are already statuses pass through.
func toGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, mvcc.ErrCompacted):
		return rpctypes.ErrGRPCCompacted
	case errors.Is(err, mvcc.ErrFutureRev):
		return rpctypes.ErrGRPCFutureRev
	case errors.Is(err, mvcc.ErrLeaseNotFound):
		return rpctypes.ErrGRPCLeaseNotFound
	case errors.Is(err, mvcc.ErrLeaseExist):
		return rpctypes.ErrGRPCLeaseExist
	case errors.Is(err, mvcc.ErrKeyNotFound):
		return rpctypes.ErrGRPCKeyNotFound
	case errors.Is(err, mvcc.ErrDuplicateKey):
		return rpctypes.ErrGRPCDuplicateKey
	case errors.Is(err, mvcc.ErrNoSpace):
		return rpctypes.ErrGRPCNoSpace
	case errors.Is(err, mvcc.ErrValueProvided):
		return rpctypes.ErrGRPCValueProvided
	case errors.Is(err, mvcc.ErrLeaseProvided):
		return rpctypes.ErrGRPCLeaseProvided
	case errors.Is(err, mvcc.ErrCorruptAlarm):
		return rpctypes.ErrGRPCCorrupt
	case errors.Is(err, mvcc.ErrAuthNotEnabled):
		return rpctypes.ErrGRPCAuthNotEnabled
	case errors.Is(err, mvcc.ErrAuthFailed):
		return rpctypes.ErrGRPCAuthFailed
	case errors.Is(err, mvcc.ErrRootUserNotExist):
		return rpctypes.ErrGRPCRootUserNotExist
	case errors.Is(err, mvcc.ErrRootRoleNotExist):
		return rpctypes.ErrGRPCRootRoleNotExist
	case errors.Is(err, mvcc.ErrUserEmpty):
		return rpctypes.ErrGRPCUserEmpty
	case errors.Is(err, mvcc.ErrUserAlreadyExist):
		return rpctypes.ErrGRPCUserAlreadyExist
	case errors.Is(err, mvcc.ErrUserNotFound):
		return rpctypes.ErrGRPCUserNotFound
	case errors.Is(err, mvcc.ErrRoleEmpty):
		return rpctypes.ErrGRPCRoleEmpty
	case errors.Is(err, mvcc.ErrRoleAlreadyExist):
		return rpctypes.ErrGRPCRoleAlreadyExist
	case errors.Is(err, mvcc.ErrRoleNotFound):
		return rpctypes.ErrGRPCRoleNotFound
	case errors.Is(err, mvcc.ErrRoleNotGranted):
		return rpctypes.ErrGRPCRoleNotGranted
	case errors.Is(err, mvcc.ErrPermissionNotGranted):
		return rpctypes.ErrGRPCPermissionNotGranted
	case errors.Is(err, mvcc.ErrPermissionDenied):
		return rpctypes.ErrGRPCPermissionDenied
	case errors.Is(err, mvcc.ErrInvalidAuthMgmt):
		return rpctypes.ErrGRPCInvalidAuthMgmt
	case errors.Is(err, mvcc.ErrAuthOldRevision):
		return rpctypes.ErrGRPCAuthOldRevision
	case errors.Is(err, mvcc.ErrBackend), errors.Is(err, ErrStateMachineFailed):
		// The member is stopping: clients should go to another one.
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, ErrStopped):
		return rpctypes.ErrGRPCStopped
	case errors.Is(err, ErrNoLeader):
		return rpctypes.ErrGRPCNoLeader
	case errors.Is(err, ErrTimeout):
		return rpctypes.ErrGRPCTimeout
	case errors.Is(err, ErrTooLarge):
		return rpctypes.ErrGRPCRequestTooLarge
	case errors.Is(err, context.Canceled):
		return rpctypes.ErrGRPCCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return rpctypes.ErrGRPCDeadlineExceeded
	}
	return status.Error(status.Code(err), err.Error())
}
