package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/store/mvcc"
)

// Token metadata keys, as etcd reads them: gRPC clients send "token", the
// JSON gateway passes the "Authorization" header on as "authorization".
const (
	tokenKeyGRPC    = "token"
	tokenKeyGateway = "authorization"
)

// authInfo is who a request acts as: a user authorised at an auth
// revision.
type authInfo struct {
	user string
	rev  uint64
}

// authenticator turns the token a request carries into the user it acts
// as, and checks what the API layer checks before a request reaches the
// state machine: reads, watches and the administrative calls of the
// Maintenance and Cluster services. Writes are checked when they are
// applied (mvcc), against the auth store as of their entry.
type authenticator struct {
	kv     *mvcc.Store
	tokens tokenProvider
	// certUsers: client certificates are required (--client-cert-auth), so
	// a request without a token acts as its certificate's common name.
	certUsers bool
}

// tokenProvider hands out and checks the tokens Authenticate returns.
type tokenProvider interface {
	// info returns the user a token belongs to and the auth revision it
	// was authorised at (current is the store's); ok is false for a token
	// this provider did not issue or that expired.
	info(ctx context.Context, token string, current uint64) (authInfo, bool)
	// simple reports whether tokens are assigned through raft (simple
	// tokens) rather than signed by the member that authenticates.
	simple() bool
	// sign makes a token for user, authorised at auth revision rev. Only
	// providers that are not simple sign.
	sign(user string, rev uint64) (string, error)
}

// newTokenProvider returns the core's simple tokens, or the signed tokens
// --auth-token configures, with their keys loaded.
func newTokenProvider(cfg Config, c *core) (tokenProvider, error) {
	o, signed, err := cfg.jwtConfig()
	switch {
	case err != nil:
		return nil, err
	case !signed:
		return c.tokens, nil
	}
	t, err := newJWTTokens(o)
	if err != nil {
		return nil, fmt.Errorf("--auth-token: %w", err)
	}
	return t, nil
}

// fromCtx returns who the request in ctx acts as: nil if it carries no
// token (and no client certificate that names a user);
// ErrGRPCInvalidAuthToken if its token is unknown or expired.
func (a *authenticator) fromCtx(ctx context.Context) (*authInfo, error) {
	// ValueFromIncomingContext reads one key; FromIncomingContext would
	// copy every header of every request.
	ts := metadata.ValueFromIncomingContext(ctx, tokenKeyGRPC)
	if len(ts) == 0 {
		ts = metadata.ValueFromIncomingContext(ctx, tokenKeyGateway)
	}
	if len(ts) == 0 {
		return a.fromCert(ctx), nil
	}
	ai, ok := a.tokens.info(ctx, ts[0], a.kv.AuthRevision())
	if !ok {
		return nil, rpctypes.ErrGRPCInvalidAuthToken
	}
	return &ai, nil
}

// fromCert is etcd's user of a request without a token when client
// certificates are required: the common name of the verified client
// certificate, at the current auth revision (an empty name then matches no
// user). Requests the JSON gateway forwards are left out: it dials with the
// member's own certificate, whose name is nobody's to use.
func (a *authenticator) fromCert(ctx context.Context) *authInfo {
	if !a.certUsers || len(metadata.ValueFromIncomingContext(ctx, gatewayAcceptKey)) > 0 {
		return nil
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil
	}
	// The port asks for any certificate and verifies it against the
	// trusted CA bundle as that is at the handshake (VerifyConnection),
	// so crypto/tls records no verified chain: a connection that got this
	// far presented a verified certificate first.
	if len(ti.State.PeerCertificates) == 0 {
		return nil
	}
	return &authInfo{user: ti.State.PeerCertificates[0].Subject.CommonName, rev: a.kv.AuthRevision()}
}

// gatewayAcceptKey is the metadata the JSON gateway adds to every request
// it forwards.
const gatewayAcceptKey = "grpcgateway-accept"

// header is the RequestHeader a client request is proposed with: the user
// it acts as and the auth revision it was authorised at, which the state
// machine checks its writes against. A request without a token gets an
// empty user, which the state machine refuses while authentication is
// enabled.
func (a *authenticator) header(ctx context.Context) (*pb.RequestHeader, error) {
	ai, err := a.fromCtx(ctx)
	if err != nil {
		return nil, err
	}
	h := &pb.RequestHeader{}
	if ai != nil {
		h.Username, h.AuthRevision = ai.user, ai.rev
	}
	return h, nil
}

// checkRange checks that the request in ctx may read (key, end).
func (a *authenticator) checkRange(ctx context.Context, key, end []byte) error {
	ai, err := a.fromCtx(ctx)
	if err != nil {
		return err
	}
	if ai == nil {
		ai = &authInfo{}
	}
	return toGRPC(a.kv.IsRangePermitted(ai.user, ai.rev, key, end))
}

// checkTxnReads checks that the request in ctx may read every key a
// read-only transaction compares or reads, its nested transactions'
// included, as etcd checks a transaction it serves without raft (a
// proposed one is checked when applied). Who the request is, is looked up
// once.
func (a *authenticator) checkTxnReads(ctx context.Context, r *pb.TxnRequest) error {
	ai, err := a.fromCtx(ctx)
	if err != nil {
		return err
	}
	if ai == nil {
		ai = &authInfo{}
	}
	return toGRPC(a.txnReadsPermitted(ai, r))
}

func (a *authenticator) txnReadsPermitted(ai *authInfo, r *pb.TxnRequest) error {
	for _, c := range r.GetCompare() {
		if err := a.kv.IsRangePermitted(ai.user, ai.rev, c.GetKey(), c.GetRangeEnd()); err != nil {
			return err
		}
	}
	for _, ops := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range ops {
			if rr := op.GetRequestRange(); rr != nil {
				if err := a.kv.IsRangePermitted(ai.user, ai.rev, rr.GetKey(), rr.GetRangeEnd()); err != nil {
					return err
				}
			}
			if tr := op.GetRequestTxn(); tr != nil {
				if err := a.txnReadsPermitted(ai, tr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkAdmin checks that the request in ctx acts as a user with the root
// role, as etcd requires for hashes, snapshots, defragmentation and
// membership changes.
func (a *authenticator) checkAdmin(ctx context.Context) error {
	ai, err := a.fromCtx(ctx)
	if err != nil {
		return err
	}
	if !a.kv.AuthEnabled() {
		return nil
	}
	if ai == nil {
		return rpctypes.ErrGRPCUserEmpty
	}
	return toGRPC(a.kv.IsAdminPermitted(ai.user))
}

// checkMaintenanceAdmin is checkAdmin as etcd 3.4's Maintenance service
// answers it: with its auth store's own error, which gRPC sends with code
// Unknown and an "auth: " message, and etcdctl prints so.
func (a *authenticator) checkMaintenanceAdmin(ctx context.Context) error {
	err := a.checkAdmin(ctx)
	if err == nil {
		return nil
	}
	msg := status.Convert(err).Message()
	if m, ok := authStoreMessages[msg]; ok {
		return status.Error(codes.Unknown, m)
	}
	return status.Error(codes.Unknown, "auth: "+strings.TrimPrefix(msg, "etcdserver: "))
}

// authStoreMessages are etcd's auth store errors whose text is not the
// gRPC error's with "auth: " for "etcdserver: ".
var authStoreMessages = map[string]string{
	rpctypes.ErrorDesc(rpctypes.ErrGRPCUserNotFound):    "auth: user not found",
	rpctypes.ErrorDesc(rpctypes.ErrGRPCAuthOldRevision): "auth: revision in header is old",
}

// simpleTokens are etcd's default tokens: random letters and the raft
// index of the Authenticate entry that assigned them. Every member applies
// that entry and keeps the token, so any member accepts it once it has
// applied the entry. A token lives ttl after its last use; tokens are kept
// in memory only, so a restart forgets them and clients authenticate
// again. Every request looks its token up, so lookups share a read lock
// and renew a token's expiry atomically.
type simpleTokens struct {
	applied *indexWaiter
	ttl     time.Duration
	now     func() time.Time

	mu      sync.RWMutex
	tokens  map[string]*simpleToken
	sweepAt int // the next assign sweeps expired tokens once there are this many
}

type simpleToken struct {
	user    string
	expires atomic.Int64 // unix nanoseconds
}

func newSimpleTokens(applied *indexWaiter, ttl time.Duration) *simpleTokens {
	return &simpleTokens{applied: applied, ttl: ttl, now: time.Now, tokens: map[string]*simpleToken{}, sweepAt: 1024}
}

// simpleTokenLetters are the letters of a simple token's random part.
const simpleTokenLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newPrefix makes the random part of a token, chosen before the
// Authenticate request is proposed.
func (t *simpleTokens) newPrefix() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	for i := range b {
		b[i] = simpleTokenLetters[int(b[i])%len(simpleTokenLetters)]
	}
	return string(b)
}

// assign records the token an Authenticate entry at index made for user;
// the applier calls it on every member.
func (t *simpleTokens) assign(prefix string, index uint64, user string) string {
	tok := prefix + "." + strconv.FormatUint(index, 10)
	now := t.now().UnixNano()
	tk := &simpleToken{user: user}
	tk.expires.Store(now + int64(t.ttl))
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.tokens) >= t.sweepAt {
		for k, v := range t.tokens {
			if v.expires.Load() <= now {
				delete(t.tokens, k)
			}
		}
		t.sweepAt = max(1024, 2*len(t.tokens))
	}
	t.tokens[tok] = tk
	return tok
}

// invalidateUser forgets every token of user: its password changed or it
// was deleted.
func (t *simpleTokens) invalidateUser(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.tokens {
		if v.user == user {
			delete(t.tokens, k)
		}
	}
}

// clear forgets every token: authentication was disabled.
func (t *simpleTokens) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.tokens)
}

func (t *simpleTokens) simple() bool { return true }

func (t *simpleTokens) sign(string, uint64) (string, error) {
	return "", fmt.Errorf("simple tokens are assigned through raft, not signed")
}

// info waits until this member has applied the entry that assigned the
// token, then looks it up and renews its lifetime.
func (t *simpleTokens) info(ctx context.Context, token string, current uint64) (authInfo, bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return authInfo{}, false
	}
	index, err := strconv.ParseUint(token[i+1:], 10, 64)
	if err != nil {
		return authInfo{}, false
	}
	if t.applied.current() < index {
		select {
		case <-t.applied.wait(index):
		case <-ctx.Done():
			return authInfo{}, false
		}
	}
	now := t.now().UnixNano()
	t.mu.RLock()
	tk, ok := t.tokens[token]
	t.mu.RUnlock()
	if !ok {
		return authInfo{}, false
	}
	if tk.expires.Load() <= now {
		t.mu.Lock()
		if t.tokens[token] == tk {
			delete(t.tokens, token)
		}
		t.mu.Unlock()
		return authInfo{}, false
	}
	tk.expires.Store(now + int64(t.ttl))
	return authInfo{user: tk.user, rev: current}, true
}

// propose puts a client's request through raft with a header naming who
// it acts as. A write refused because the auth store changed after its
// header was made is proposed again with a new one, as etcd does, when
// the token is simple; a signed token carries its auth revision, so its
// client must authenticate again.
func (a *authenticator) propose(ctx context.Context, p *proposer, req *pb.InternalRaftRequest) (proto.Message, error) {
	for {
		h, err := a.header(ctx)
		if err != nil {
			return nil, err
		}
		req.Header = h
		resp, err := p.propose(ctx, req)
		if errors.Is(err, mvcc.ErrAuthOldRevision) && a.tokens.simple() && ctx.Err() == nil {
			continue
		}
		return resp, err
	}
}
