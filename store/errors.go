package store

import (
	"context"
	"errors"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
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
