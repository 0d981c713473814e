package store

import (
	"context"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/adrbench/adrbench/store/mvcc"
)

// Version is the etcd server version this store answers as: clients decide
// which API features to use from it, and ours implements etcd's v3.6 API.
const Version = "3.6.0"

// maintenanceServer implements the parts of etcd's Maintenance service a
// benchmarked store needs: Status, alarms and snapshots.
type maintenanceServer struct {
	pb.UnimplementedMaintenanceServer
	kv         *mvcc.Store
	headers    headers
	status     *nodeStatus
	applied    *indexWaiter
	quotaBytes int64
}

func (m *maintenanceServer) Status(ctx context.Context, r *pb.StatusRequest) (*pb.StatusResponse, error) {
	resp := &pb.StatusResponse{
		Header:           m.headers.fill(nil),
		Version:          Version,
		DbSize:           m.kv.Size(),
		DbSizeInUse:      m.kv.Size(),
		Leader:           m.status.leader(),
		RaftIndex:        m.status.commit.Load(),
		RaftTerm:         m.status.term.Load(),
		RaftAppliedIndex: m.applied.current(),
		StorageVersion:   Version,
	}
	if !m.status.hasLeader.Load() {
		resp.Errors = append(resp.Errors, "etcdserver: no leader")
	}
	return resp, nil
}

func (m *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if r.GetAction() != pb.AlarmRequest_GET {
		return nil, status.Error(codes.Unimplemented, "adrbench: alarms are raised and cleared by the store itself; only GET is served")
	}
	resp := &pb.AlarmResponse{Header: m.headers.fill(nil)}
	if m.kv.Size() >= m.quotaBytes {
		resp.Alarms = append(resp.Alarms, &pb.AlarmMember{MemberID: m.headers.memberID, Alarm: pb.AlarmType_NOSPACE})
	}
	return resp, nil
}

// Snapshot streams a consistent copy of the state machine's database.
func (m *maintenanceServer) Snapshot(r *pb.SnapshotRequest, stream pb.Maintenance_SnapshotServer) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := m.kv.Snapshot(pw)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			resp := &pb.SnapshotResponse{Header: m.headers.fill(nil), RemainingBytes: 1, Blob: buf[:n], Version: Version}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return stream.Send(&pb.SnapshotResponse{Header: m.headers.fill(nil), Version: Version})
		}
		if err != nil {
			return toGRPC(err)
		}
	}
}

func (m *maintenanceServer) Defragment(context.Context, *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	return nil, status.Error(codes.Unimplemented, "adrbench: defragment is not supported; compaction frees space for reuse")
}

func (m *maintenanceServer) Hash(context.Context, *pb.HashRequest) (*pb.HashResponse, error) {
	return nil, status.Error(codes.Unimplemented, "adrbench: hash is not supported")
}

func (m *maintenanceServer) HashKV(context.Context, *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	return nil, status.Error(codes.Unimplemented, "adrbench: hashkv is not supported")
}

func (m *maintenanceServer) MoveLeader(context.Context, *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	return nil, status.Error(codes.Unimplemented, "adrbench: move-leader is not supported")
}

func (m *maintenanceServer) Downgrade(context.Context, *pb.DowngradeRequest) (*pb.DowngradeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "adrbench: downgrade is not supported")
}

// clusterServer implements etcd's Cluster service for a static membership.
type clusterServer struct {
	pb.UnimplementedClusterServer
	members *members
	reads   *readBatcher
	headers headers
}

func (c *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if r.GetLinearizable() {
		if err := c.reads.read(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	return &pb.MemberListResponse{Header: c.headers.fill(nil), Members: c.members.proto()}, nil
}

const staticMembership = "adrbench: membership is static (set by --initial-cluster); start a new cluster to change it"

func (c *clusterServer) MemberAdd(context.Context, *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberRemove(context.Context, *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberUpdate(context.Context, *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberPromote(context.Context, *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	return nil, status.Error(codes.Unimplemented, staticMembership)
}
