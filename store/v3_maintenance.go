package store

import (
	"context"
	"crypto/sha256"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/mvcc"
)

// Version is the etcd server version this store answers as: clients decide
// which API features to use from it, and ours implements etcd's v3.6 API.
const Version = "3.6.0"

// maintenanceServer implements the parts of etcd's Maintenance service a
// benchmarked store needs: Status, alarms, snapshots, defragmentation and
// the hashes that compare members.
type maintenanceServer struct {
	pb.UnimplementedMaintenanceServer
	kv         *mvcc.Store
	headers    headers
	status     *nodeStatus
	applied    *indexWaiter
	proposer   *proposer
	quotaBytes int64
	auth       *authenticator
}

func (m *maintenanceServer) Status(ctx context.Context, r *pb.StatusRequest) (*pb.StatusResponse, error) {
	resp := &pb.StatusResponse{
		Header:           m.headers.fill(nil),
		Version:          Version,
		DbSize:           m.kv.Size(),
		DbSizeInUse:      m.kv.SizeInUse(),
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

// Alarm lists the raised alarms (GET) or raises or clears one through
// raft (ACTIVATE, DEACTIVATE), as etcd does. NOSPACE is also listed while
// the database is over its quota, whether or not it was raised.
func (m *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	if r.GetAction() != pb.AlarmRequest_GET {
		resp, err := m.auth.propose(ctx, m.proposer, &pb.InternalRaftRequest{Alarm: r})
		if err != nil {
			return nil, toGRPC(err)
		}
		ar := resp.(*pb.AlarmResponse)
		ar.Header = m.headers.fill(ar.GetHeader())
		return ar, nil
	}
	resp := &pb.AlarmResponse{Header: m.headers.fill(nil)}
	nospace := &pb.AlarmMember{MemberID: m.headers.memberID, Alarm: pb.AlarmType_NOSPACE}
	raised := false
	for _, a := range m.kv.Alarms() {
		if r.GetAlarm() == pb.AlarmType_NONE || r.GetAlarm() == a.GetAlarm() {
			resp.Alarms = append(resp.Alarms, a)
		}
		raised = raised || proto.Equal(a, nospace)
	}
	if !raised && m.kv.Size() >= m.quotaBytes && (r.GetAlarm() == pb.AlarmType_NONE || r.GetAlarm() == pb.AlarmType_NOSPACE) {
		resp.Alarms = append(resp.Alarms, nospace)
	}
	return resp, nil
}

// Snapshot streams a consistent copy of the state machine's database,
// then its sha256 in a message of its own, as etcd does: etcdctl snapshot
// save writes both, and snapshot restore checks the one against the other.
func (m *maintenanceServer) Snapshot(r *pb.SnapshotRequest, stream pb.Maintenance_SnapshotServer) error {
	if err := m.auth.checkMaintenanceAdmin(stream.Context()); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := m.kv.Snapshot(pw)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	h := sha256.New()
	buf := make([]byte, 32*1024)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			h.Write(buf[:n])
			resp := &pb.SnapshotResponse{Header: m.headers.fill(nil), RemainingBytes: 1, Blob: buf[:n], Version: Version}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return stream.Send(&pb.SnapshotResponse{Header: m.headers.fill(nil), Blob: h.Sum(nil), Version: Version})
		}
		if err != nil {
			return toGRPC(err)
		}
	}
}

// Defragment rewrites this member's database compactly
// (mvcc.Store.Defragment), giving the file system the pages compactions
// freed, as etcd's; the member serves nothing else meanwhile. With
// authentication on, only the root role may.
func (m *maintenanceServer) Defragment(ctx context.Context, _ *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	if err := m.auth.checkMaintenanceAdmin(ctx); err != nil {
		return nil, err
	}
	if err := m.kv.Defragment(); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.DefragmentResponse{Header: m.headers.fill(nil)}, nil
}

// Hash is the hash of the whole database but the consistent index
// (mvcc.Store.Hash), as etcd's: equal on members that applied the same
// entries.
func (m *maintenanceServer) Hash(ctx context.Context, _ *pb.HashRequest) (*pb.HashResponse, error) {
	if err := m.auth.checkMaintenanceAdmin(ctx); err != nil {
		return nil, err
	}
	h, rev, err := m.kv.Hash()
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashResponse{Header: m.headers.fill(&pb.ResponseHeader{Revision: rev}), Hash: h}, nil
}

// HashKV is the hash of the key space up to a revision (mvcc.Store.HashKV),
// as etcd's: equal on members at the same compaction revision.
func (m *maintenanceServer) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	if err := m.auth.checkMaintenanceAdmin(ctx); err != nil {
		return nil, err
	}
	h, err := m.kv.HashKV(r.GetRevision())
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashKVResponse{
		Header:          m.headers.fill(&pb.ResponseHeader{Revision: h.Current}),
		Hash:            h.Hash,
		CompactRevision: h.Compact,
		HashRevision:    h.Revision,
	}, nil
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
	auth    *authenticator
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

func (c *clusterServer) MemberAdd(ctx context.Context, _ *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	if err := c.auth.checkAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberRemove(ctx context.Context, _ *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	if err := c.auth.checkAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberUpdate(ctx context.Context, _ *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	if err := c.auth.checkAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, staticMembership)
}

func (c *clusterServer) MemberPromote(ctx context.Context, _ *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	if err := c.auth.checkAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unimplemented, staticMembership)
}
