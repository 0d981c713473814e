package store

import (
	"context"
	"errors"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/mvcc"
)

// authServer implements etcd's Auth service. Every call goes through raft,
// reads too, as in etcd 3.4, so that it sees the auth store every member
// agrees on; the state machine checks that the caller may make it.
// Passwords are hashed with bcrypt here, before proposing, so the raft log
// never holds one in clear and applying stays cheap.
type authServer struct {
	pb.UnimplementedAuthServer
	kv         *mvcc.Store
	reads      *readBatcher
	proposer   *proposer
	headers    headers
	auth       *authenticator
	simple     *simpleTokens // nil when tokens are signed
	bcryptCost int
}

// do proposes req as the caller and fills the response's header.
func do[R interface {
	proto.Message
	GetHeader() *pb.ResponseHeader
}](ctx context.Context, s *authServer, req *pb.InternalRaftRequest, set func(R, *pb.ResponseHeader)) (R, error) {
	var zero R
	resp, err := s.auth.propose(ctx, s.proposer, req)
	if err != nil {
		return zero, toGRPC(err)
	}
	r := resp.(R)
	set(r, s.headers.fill(r.GetHeader()))
	return r, nil
}

func (s *authServer) AuthEnable(ctx context.Context, r *pb.AuthEnableRequest) (*pb.AuthEnableResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthEnable: r}, func(r *pb.AuthEnableResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) AuthDisable(ctx context.Context, r *pb.AuthDisableRequest) (*pb.AuthDisableResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthDisable: r}, func(r *pb.AuthDisableResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) AuthStatus(ctx context.Context, r *pb.AuthStatusRequest) (*pb.AuthStatusResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthStatus: r}, func(r *pb.AuthStatusResponse, h *pb.ResponseHeader) { r.Header = h })
}

// Authenticate checks the password here, then proposes the
// authentication, which assigns a simple token on every member; a signed
// token is made once it is applied. If the auth store changed between the
// check and the apply, the check is made again, as etcd does.
func (s *authServer) Authenticate(ctx context.Context, r *pb.AuthenticateRequest) (*pb.AuthenticateResponse, error) {
	// Whether auth is on, and the user's password, are read locally, so
	// the member first catches up with the leader's commit index, as a
	// linearizable read does: a client that enabled auth or changed a
	// password through another member is not answered from before it.
	if err := s.reads.read(ctx); err != nil {
		return nil, toGRPC(err)
	}
	for {
		if !s.kv.AuthEnabled() {
			return nil, rpctypes.ErrGRPCAuthNotEnabled
		}
		hash, rev, err := s.kv.UserPassword(r.GetName())
		if err != nil {
			return nil, toGRPC(err)
		}
		if bcrypt.CompareHashAndPassword(hash, []byte(r.GetPassword())) != nil {
			return nil, rpctypes.ErrGRPCAuthFailed
		}
		ir := &pb.InternalAuthenticateRequest{Name: r.GetName()}
		if s.simple != nil {
			ir.SimpleToken = s.simple.newPrefix()
		}
		resp, err := s.proposer.propose(ctx, &pb.InternalRaftRequest{Authenticate: ir})
		if err != nil {
			return nil, toGRPC(err)
		}
		if s.kv.AuthRevision() != rev {
			if err := ctx.Err(); err != nil {
				return nil, toGRPC(err)
			}
			continue
		}
		ar := resp.(*pb.AuthenticateResponse)
		if s.simple == nil {
			if ar.Token, err = s.auth.tokens.sign(r.GetName(), rev); err != nil {
				return nil, toGRPC(err)
			}
		}
		ar.Header = s.headers.fill(ar.GetHeader())
		return ar, nil
	}
}

// hashPassword hashes a password for the raft log; a user added with
// NoPassword has none.
func (s *authServer) hashPassword(password string, noPassword bool) (string, error) {
	if noPassword {
		return "", nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		// etcd's older bcrypt ignored the bytes past 72; this one
		// refuses them, and so do we, rather than store a password that
		// a shorter one would match.
		return "", status.Error(codes.InvalidArgument, "adrbench: a password longer than 72 bytes cannot be hashed with bcrypt")
	}
	if err != nil {
		return "", toGRPC(err)
	}
	return string(h), nil
}

func (s *authServer) UserAdd(ctx context.Context, r *pb.AuthUserAddRequest) (*pb.AuthUserAddResponse, error) {
	if r.GetName() == "" {
		return nil, rpctypes.ErrGRPCUserEmpty
	}
	h, err := s.hashPassword(r.GetPassword(), r.GetOptions().GetNoPassword())
	if err != nil {
		return nil, err
	}
	q := &pb.AuthUserAddRequest{Name: r.GetName(), Options: r.GetOptions(), HashedPassword: h}
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserAdd: q}, func(r *pb.AuthUserAddResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserGet(ctx context.Context, r *pb.AuthUserGetRequest) (*pb.AuthUserGetResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserGet: r}, func(r *pb.AuthUserGetResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserList(ctx context.Context, r *pb.AuthUserListRequest) (*pb.AuthUserListResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserList: r}, func(r *pb.AuthUserListResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserDelete(ctx context.Context, r *pb.AuthUserDeleteRequest) (*pb.AuthUserDeleteResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserDelete: r}, func(r *pb.AuthUserDeleteResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserChangePassword(ctx context.Context, r *pb.AuthUserChangePasswordRequest) (*pb.AuthUserChangePasswordResponse, error) {
	h, err := s.hashPassword(r.GetPassword(), false)
	if err != nil {
		return nil, err
	}
	q := &pb.AuthUserChangePasswordRequest{Name: r.GetName(), HashedPassword: h}
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserChangePassword: q}, func(r *pb.AuthUserChangePasswordResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserGrantRole(ctx context.Context, r *pb.AuthUserGrantRoleRequest) (*pb.AuthUserGrantRoleResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserGrantRole: r}, func(r *pb.AuthUserGrantRoleResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) UserRevokeRole(ctx context.Context, r *pb.AuthUserRevokeRoleRequest) (*pb.AuthUserRevokeRoleResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthUserRevokeRole: r}, func(r *pb.AuthUserRevokeRoleResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleAdd(ctx context.Context, r *pb.AuthRoleAddRequest) (*pb.AuthRoleAddResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleAdd: r}, func(r *pb.AuthRoleAddResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleGet(ctx context.Context, r *pb.AuthRoleGetRequest) (*pb.AuthRoleGetResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleGet: r}, func(r *pb.AuthRoleGetResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleList(ctx context.Context, r *pb.AuthRoleListRequest) (*pb.AuthRoleListResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleList: r}, func(r *pb.AuthRoleListResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleDelete(ctx context.Context, r *pb.AuthRoleDeleteRequest) (*pb.AuthRoleDeleteResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleDelete: r}, func(r *pb.AuthRoleDeleteResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleGrantPermission(ctx context.Context, r *pb.AuthRoleGrantPermissionRequest) (*pb.AuthRoleGrantPermissionResponse, error) {
	if r.GetPerm() == nil {
		return nil, rpctypes.ErrGRPCPermissionNotGiven
	}
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleGrantPermission: r}, func(r *pb.AuthRoleGrantPermissionResponse, h *pb.ResponseHeader) { r.Header = h })
}

func (s *authServer) RoleRevokePermission(ctx context.Context, r *pb.AuthRoleRevokePermissionRequest) (*pb.AuthRoleRevokePermissionResponse, error) {
	return do(ctx, s, &pb.InternalRaftRequest{AuthRoleRevokePermission: r}, func(r *pb.AuthRoleRevokePermissionResponse, h *pb.ResponseHeader) { r.Header = h })
}
