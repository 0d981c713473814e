package store

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/metadata"
)

// isRPCErr reports whether err is the etcd error want, as clientv3 hands
// it back.
func isRPCErr(err, want error) bool {
	return err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(want)
}

// TestAuthOverGRPC sets up users and roles through the Auth service,
// enables authentication, and checks what each member lets a client do
// with and without a token.
func TestAuthOverGRPC(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{config: func(cfg *Config) { cfg.BcryptCost = bcrypt.MinCost }})
	ctx := ctxT(t)
	l := c.leader()
	admin := c.clients[l]
	steps := []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "root"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.UserAdd(ctx, "alice", "alicepw"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "app"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "app", "app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserGrantRole(ctx, "alice", "app"); return err },
		func() error { _, err := admin.Put(ctx, "secret", "s"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}

	// Without a token every member refuses reads, writes and hashes.
	for i, cli := range c.clients {
		if _, err := cli.Get(ctx, "app/x"); !isRPCErr(err, rpctypes.ErrGRPCUserEmpty) {
			t.Fatalf("member %d: get without a token: %v", i, err)
		}
		if _, err := cli.Put(ctx, "app/x", "1"); !isRPCErr(err, rpctypes.ErrGRPCUserEmpty) {
			t.Fatalf("member %d: put without a token: %v", i, err)
		}
		if _, err := cli.HashKV(ctx, c.members[i].ClientAddr(), 0); err == nil {
			t.Fatalf("member %d: hashkv without a token succeeded", i)
		}
	}

	// A token from one member works on every member once it has applied
	// the authentication.
	resp, err := c.clients[c.follower()].Authenticate(ctx, "alice", "alicepw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Authenticate(ctx, "alice", "wrong"); !isRPCErr(err, rpctypes.ErrGRPCAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := admin.UserAdd(ctx, "long", strings.Repeat("p", 73)); err == nil || !strings.Contains(err.Error(), "longer than 72 bytes") {
		t.Fatalf("a password bcrypt cannot hash: %v", err)
	}
	actx := metadata.AppendToOutgoingContext(ctx, "token", resp.Token)
	for i, cli := range c.clients {
		if _, err := cli.Put(actx, "app/x", "1"); err != nil {
			t.Fatalf("member %d: alice's put in her prefix: %v", i, err)
		}
		if _, err := cli.Get(actx, "app/", clientv3.WithPrefix()); err != nil {
			t.Fatalf("member %d: alice's get of her prefix: %v", i, err)
		}
		if _, err := cli.Get(actx, "secret"); !isRPCErr(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("member %d: alice's get of another key: %v", i, err)
		}
		if _, err := cli.Put(actx, "secret", "x"); !isRPCErr(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("member %d: alice's put of another key: %v", i, err)
		}
		if _, err := cli.UserAdd(actx, "bob", "b"); !isRPCErr(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("member %d: alice adds a user: %v", i, err)
		}
		// Read-only transactions are served without raft, and checked
		// before: every compare and every read, nested ones included.
		if _, err := cli.Txn(actx).If(clientv3.Compare(clientv3.Value("app/x"), "=", "1")).Then(clientv3.OpGet("app/", clientv3.WithPrefix())).Commit(); err != nil {
			t.Fatalf("member %d: alice's read-only txn in her prefix: %v", i, err)
		}
		if _, err := cli.Txn(actx).If(clientv3.Compare(clientv3.Value("secret"), "=", "x")).Then(clientv3.OpGet("app/x")).Commit(); !isRPCErr(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("member %d: alice's read-only txn comparing another key: %v", i, err)
		}
		if _, err := cli.Txn(actx).Else(clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpGet("secret")}, nil)).Commit(); !isRPCErr(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("member %d: alice's read-only txn reading another key in a nested txn: %v", i, err)
		}
	}
	// The JSON gateway takes the token in the Authorization header.
	for _, tc := range []struct {
		token string
		code  int
	}{{resp.Token, http.StatusOK}, {"", http.StatusBadRequest}, {"notatoken.1", http.StatusUnauthorized}} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.members[l].ClientAddr()+"/v3/kv/range",
			strings.NewReader(`{"key":"`+base64.StdEncoding.EncodeToString([]byte("app/x"))+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if tc.token != "" {
			req.Header.Set("Authorization", tc.token)
		}
		hresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(hresp.Body)
		hresp.Body.Close()
		if hresp.StatusCode != tc.code {
			t.Fatalf("gateway range with token %q: %d %s, want %d", tc.token, hresp.StatusCode, body, tc.code)
		}
	}
	bad := metadata.AppendToOutgoingContext(ctx, "token", "notatoken.1")
	if _, err := admin.Get(bad, "app/x"); !isRPCErr(err, rpctypes.ErrGRPCInvalidAuthToken) {
		t.Fatalf("get with an unknown token: %v", err)
	}

	// A watch on keys alice may not read is created and canceled at once.
	wctx, wcancel := context.WithCancel(actx)
	defer wcancel()
	wr, ok := <-admin.Watch(wctx, "secret")
	// clientv3 hands the cancel reason back inside a plain error.
	if !ok || !wr.Canceled || wr.Err() == nil || !strings.Contains(wr.Err().Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCPermissionDenied)) {
		t.Fatalf("watch of another key: %v, canceled %v, %v", ok, wr.Canceled, wr.Err())
	}

	// A client logged in as root may do anything; a changed password
	// makes alice's token invalid on every member.
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{c.members[l].ClientAddr()},
		Username: "root", Password: "rootpw", DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.HashKV(ctx, c.members[l].ClientAddr(), 0); err != nil {
		t.Fatalf("root's hashkv: %v", err)
	}
	if _, err := root.UserChangePassword(ctx, "alice", "new"); err != nil {
		t.Fatal(err)
	}
	for _, cli := range c.clients {
		eventually(t, 10*time.Second, func() error {
			if _, err := cli.Get(actx, "app/x"); !isRPCErr(err, rpctypes.ErrGRPCInvalidAuthToken) {
				return errors.New("alice's old token still works")
			}
			return nil
		})
	}
	if _, err := root.AuthDisable(ctx); err != nil {
		t.Fatal(err)
	}
	for i, cli := range c.clients {
		eventually(t, 10*time.Second, func() error {
			_, err := cli.Get(ctx, "secret")
			return err
		})
		if _, err := cli.Authenticate(ctx, "root", "rootpw"); !isRPCErr(err, rpctypes.ErrGRPCAuthNotEnabled) {
			t.Fatalf("member %d: authenticate while disabled: %v", i, err)
		}
	}
}

// TestSimpleTokens checks a simple token's life: it is found once its
// entry is applied, lives its TTL after its last use, and is forgotten
// when its user changes or authentication is disabled.
func TestSimpleTokens(t *testing.T) {
	now := time.Unix(1000, 0)
	applied := &indexWaiter{}
	applied.advance(10)
	st := newSimpleTokens(applied, time.Minute)
	st.now = func() time.Time { return now }
	ctx := context.Background()

	tok := st.assign("abc", 5, "alice")
	if tok != "abc.5" {
		t.Fatalf("token %q, want abc.5", tok)
	}
	if ai, ok := st.info(ctx, tok, 3); !ok || ai.user != "alice" || ai.rev != 3 {
		t.Fatalf("info: %+v %v", ai, ok)
	}
	now = now.Add(50 * time.Second)
	if _, ok := st.info(ctx, tok, 3); !ok {
		t.Fatal("a token used within its TTL expired")
	}
	now = now.Add(50 * time.Second) // 100 s after assignment, 50 s after its last use
	if _, ok := st.info(ctx, tok, 3); !ok {
		t.Fatal("using a token did not renew it")
	}
	now = now.Add(time.Minute)
	if _, ok := st.info(ctx, tok, 3); ok {
		t.Fatal("a token unused for its TTL is still valid")
	}

	for _, bad := range []string{"", "nodot", "abc.x", "zzz.5"} {
		if _, ok := st.info(ctx, bad, 3); ok {
			t.Fatalf("token %q accepted", bad)
		}
	}
	// A token from an entry this member has not applied waits for it.
	future := st.assign("def", 20, "bob")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := st.info(cctx, future, 3); ok {
		t.Fatal("a token was accepted before its entry was applied")
	}
	applied.advance(20)
	if _, ok := st.info(ctx, future, 3); !ok {
		t.Fatal("a token was refused after its entry was applied")
	}

	a, b := st.assign("a1", 1, "alice"), st.assign("b1", 1, "bob")
	st.invalidateUser("alice")
	if _, ok := st.info(ctx, a, 3); ok {
		t.Fatal("a token of an invalidated user is still valid")
	}
	if _, ok := st.info(ctx, b, 3); !ok {
		t.Fatal("invalidating alice invalidated bob")
	}
	st.clear()
	if _, ok := st.info(ctx, b, 3); ok {
		t.Fatal("a token survived clear")
	}
}

// TestAuthJWT runs a cluster with signed tokens: a token from one member
// works on every member, and once the auth store changes it is refused
// as old until its client authenticates again, which clientv3 does by
// itself.
func TestAuthJWT(t *testing.T) {
	opts := "jwt,pub-key=" + jwtFile("ec256.pub") + ",priv-key=" + jwtFile("ec256.key") + ",sign-method=ES256"
	c := newTestCluster(t, 3, clusterOpts{config: func(cfg *Config) {
		cfg.BcryptCost = bcrypt.MinCost
		cfg.AuthToken = opts
	}})
	ctx := ctxT(t)
	admin := c.clients[c.leader()]
	for i, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}
	resp, err := c.clients[0].Authenticate(ctx, "root", "rootpw")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(resp.Token, ".") != 2 {
		t.Fatalf("token %q is not a JWS", resp.Token)
	}
	tctx := metadata.AppendToOutgoingContext(ctx, "token", resp.Token)
	for i, cli := range c.clients {
		if _, err := cli.Put(tctx, "k", "v"); err != nil {
			t.Fatalf("member %d: put with a signed token: %v", i, err)
		}
	}
	if _, err := admin.RoleAdd(tctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Get(tctx, "k"); !isRPCErr(err, rpctypes.ErrGRPCAuthOldRevision) {
		t.Fatalf("get with a token older than the auth store: %v", err)
	}
	if _, err := admin.Put(tctx, "k", "v"); !isRPCErr(err, rpctypes.ErrGRPCAuthOldRevision) {
		t.Fatalf("put with a token older than the auth store: %v", err)
	}
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{c.members[1].ClientAddr()},
		Username: "root", Password: "rootpw", DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Put(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.RoleAdd(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Get(ctx, "k"); err != nil {
		t.Fatalf("clientv3 did not authenticate again after the auth store changed: %v", err)
	}
}

// TestAuthenticateOnALaggingMember checks that Authenticate on a member
// that has not yet applied AuthEnable waits for the leader's commit index,
// as a linearizable read does, instead of answering that authentication
// is not enabled.
func TestAuthenticateOnALaggingMember(t *testing.T) {
	c := newTestCluster(t, 3, clusterOpts{config: func(cfg *Config) { cfg.BcryptCost = bcrypt.MinCost }})
	ctx := ctxT(t)
	l := c.leader()
	f := c.follower()
	admin := c.clients[l]
	for i, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}
	// f misses AuthEnable: the leader and the third member commit it.
	c.net.Isolate(c.members[f].ID())
	if _, err := admin.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	c.net.Heal()
	// Until f hears from the leader again its read may fail as unavailable;
	// it must never say that authentication is off.
	eventually(t, 15*time.Second, func() error {
		resp, err := c.clients[f].Authenticate(ctx, "root", "rootpw")
		if isRPCErr(err, rpctypes.ErrGRPCAuthNotEnabled) {
			t.Fatalf("member that had not applied AuthEnable answered: %v", err)
		}
		if err != nil {
			return err
		}
		if resp.Token == "" {
			t.Fatal("Authenticate gave no token")
		}
		return nil
	})
}
