package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/etcdserverpb/gw"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"
)

// grpcOverheadBytes is what etcd allows on top of --max-request-bytes for
// the gRPC envelope of a request.
const grpcOverheadBytes = 512 * 1024

// streamWorkers is the number of goroutines kept to serve requests; beyond
// it gRPC starts one per request as usual.
const streamWorkers = 1024

// newFrontend builds what clients talk to: the six gRPC services, the
// health and metrics handlers, and the connections to the other members
// that followers forward lease requests on. Each service gets the parts it
// uses; stopped is closed when the member stops.
func newFrontend(cfg Config, ln net.Listener, member identity, st *memberState, c *core, stopped <-chan struct{}, log *slog.Logger) (*clientAPI, *peerConns, error) {
	hdr := headers{clusterID: member.cluster, memberID: member.member, status: c.node.status, rev: st.kv.Rev}
	metrics, err := newMetricsHandler(metricSources{
		logStats:      st.backend.Stats,
		commitLatency: st.kv.CommitLatency,
		dbSize:        st.kv.Size,
		status:        c.node.status,
		applied:       c.applied,
		proposals:     c.stats,
		peerRejected:  func() map[string]uint64 { return c.node.transport.Stats().Rejected },
	}, log)
	if err != nil {
		return nil, nil, err
	}
	serverTLS, err := clientServerTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	gwTLS, err := gatewayTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	memberTLS, err := memberClientTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	peers := newPeerConns(c.node.status, st.members, memberTLS)
	provider, err := newTokenProvider(cfg, c)
	if err != nil {
		return nil, nil, err
	}
	authn := &authenticator{kv: st.kv, tokens: provider, certUsers: cfg.ClientTLS.ClientCertAuth}
	api, err := newClientAPI(apiConfig{
		listener:        ln,
		listenURL:       cfg.ListenClientURLs[0],
		tls:             serverTLS,
		gatewayTLS:      gwTLS,
		maxRequestBytes: cfg.MaxRequestBytes,
		pprof:           cfg.EnablePprof,
	}, apiServices{
		kv:    &kvServer{kv: st.kv, reads: c.reads, proposer: c.proposer, headers: hdr, maxTxnOps: cfg.MaxTxnOps, auth: authn},
		watch: &watchServer{hub: st.hub, headers: hdr, stopped: stopped, auth: authn},
		lease: &leaseServer{
			kv:       st.kv,
			lessor:   st.lessor,
			ids:      c.proposer.ids,
			proposer: c.proposer,
			headers:  hdr,
			status:   c.node.status,
			applied:  c.applied,
			leader:   peers,
			auth:     authn,
		},
		maintenance: &maintenanceServer{kv: st.kv, headers: hdr, status: c.node.status, applied: c.applied, proposer: c.proposer, quotaBytes: cfg.QuotaBackendBytes, auth: authn},
		cluster:     &clusterServer{members: st.members, reads: c.reads, headers: hdr, auth: authn},
		auth:        &authServer{kv: st.kv, reads: c.reads, proposer: c.proposer, headers: hdr, auth: authn, simple: c.tokens, bcryptCost: cfg.BcryptCost},
		health:      healthHandler{status: c.node.status, reads: c.reads, kv: st.kv},
		metrics:     metrics,
	})
	if err != nil {
		return nil, nil, err
	}
	return api, peers, nil
}

// clientAPI serves the etcd v3 gRPC API and, on the same port, the JSON
// gateway, /health and /metrics. Connections are told apart by their first
// bytes: gRPC clients open with the HTTP/2 preface, curl with HTTP/1.
type clientAPI struct {
	ln       net.Listener
	grpcL    *chanListener
	httpL    *chanListener
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	gwConn   *grpc.ClientConn
	gwCancel context.CancelFunc
	once     sync.Once
	wg       sync.WaitGroup
}

// apiConfig is how the client port is set up.
type apiConfig struct {
	// listener, if not nil, is served instead of listening on listenURL.
	listener  net.Listener
	listenURL string
	// tls, if set, makes the port speak TLS, and the gateway reach the
	// gRPC server with gatewayTLS.
	tls             *tls.Config
	gatewayTLS      *tls.Config
	maxRequestBytes int
	pprof           bool
}

// apiServices are what the client port serves.
type apiServices struct {
	kv          pb.KVServer
	watch       pb.WatchServer
	lease       pb.LeaseServer
	maintenance pb.MaintenanceServer
	cluster     pb.ClusterServer
	auth        pb.AuthServer
	health      http.Handler
	metrics     http.Handler
}

// newClientAPI listens and sets up the servers; start serves.
func newClientAPI(cfg apiConfig, svc apiServices) (_ *clientAPI, err error) {
	ln := cfg.listener
	if ln == nil {
		if ln, err = listenTLS("--listen-client-urls", cfg.listenURL, nil); err != nil {
			return nil, err
		}
		// A listener given by the caller stays the caller's to close
		// when this fails; one opened here is closed here.
		defer func() {
			if err != nil {
				ln.Close()
			}
		}()
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		// The handshake runs in classify, under its read deadline.
		ln = tls.NewListener(ln, cfg.tls)
		creds = credentials.NewTLS(cfg.gatewayTLS)
	}
	// The gateway's connection is lazy: it reaches the gRPC server, built
	// last because it cannot fail, once serving starts.
	gwConn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mux, err := httpMux(ctx, gwConn, svc, cfg.pprof, gatewayBodyLimit(cfg.maxRequestBytes))
	if err != nil {
		cancel()
		gwConn.Close()
		return nil, err
	}
	return &clientAPI{
		ln:       ln,
		grpcL:    newChanListener(ln.Addr()),
		httpL:    newChanListener(ln.Addr()),
		grpcSrv:  newGRPCServer(cfg.maxRequestBytes, cfg.tls != nil, svc),
		httpSrv:  newHTTPServer(mux),
		gwConn:   gwConn,
		gwCancel: cancel,
	}, nil
}

// newGRPCServer registers etcd's six services on a gRPC server; with
// terminated, its connections come from a listener that did the TLS
// handshake already.
func newGRPCServer(maxRequestBytes int, terminated bool, svc apiServices) *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRequestBytes + grpcOverheadBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.MaxConcurrentStreams(math.MaxUint32),
		// Reuse handler goroutines: a fresh goroutine per request grows
		// its stack on every call, which cost a tenth of the leader's CPU.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if terminated {
		opts = append(opts, grpc.Creds(terminatedTLS{}))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterKVServer(srv, svc.kv)
	pb.RegisterWatchServer(srv, svc.watch)
	pb.RegisterLeaseServer(srv, svc.lease)
	pb.RegisterMaintenanceServer(srv, svc.maintenance)
	pb.RegisterClusterServer(srv, svc.cluster)
	pb.RegisterAuthServer(srv, svc.auth)
	return srv
}

// HTTP timeouts of the client port: a client gets this long to send a
// request's headers, and its body; an idle keep-alive connection is
// closed after httpIdleTimeout. A watch through the gateway streams its
// requests in its body for as long as it lasts, so its body has no
// deadline (bodyLimit still bounds it).
const (
	httpHeaderTimeout = 10 * time.Second
	httpReadTimeout   = 30 * time.Second
	httpIdleTimeout   = 2 * time.Minute
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		IdleTimeout:       httpIdleTimeout,
	}
}

// gatewayBodyLimit is the largest request body the JSON gateway reads: a
// request of --max-request-bytes in JSON, where bytes fields are base64
// (4/3 larger), plus the allowance gRPC gets for its envelope.
func gatewayBodyLimit(maxRequestBytes int) int64 {
	return int64(maxRequestBytes)*4/3 + grpcOverheadBytes
}

// bodyLimit caps every request body at limit bytes (the gateway answers
// a larger one with an error and reads no further) and lifts the read
// deadline of the gateway's watch stream.
func bodyLimit(h http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if r.URL.Path == "/v3/watch" {
			_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		}
		h.ServeHTTP(w, r)
	})
}

// httpMux builds the HTTP handler: etcd's JSON gateway under /v3/, which
// reaches the gRPC services through conn, a loopback connection (streaming
// calls need one), plus /health, /metrics and /version. Request bodies are
// capped at bodyBytes.
func httpMux(ctx context.Context, conn *grpc.ClientConn, svc apiServices, pprofOn bool, bodyBytes int64) (http.Handler, error) {
	gwmux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
		Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		},
	}))
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		gw.RegisterKVHandler, gw.RegisterWatchHandler, gw.RegisterLeaseHandler,
		gw.RegisterClusterHandler, gw.RegisterMaintenanceHandler, gw.RegisterAuthHandler,
	} {
		if err := reg(ctx, gwmux, conn); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/v3/", gwmux)
	mux.Handle("/health", svc.health)
	mux.Handle("/metrics", svc.metrics)
	mux.HandleFunc("/version", serveVersion)
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return bodyLimit(mux, bodyBytes), nil
}

func (a *clientAPI) addr() string { return a.ln.Addr().String() }

func (a *clientAPI) start() {
	a.wg.Add(3)
	go func() {
		defer a.wg.Done()
		a.split()
	}()
	go func() {
		defer a.wg.Done()
		_ = a.grpcSrv.Serve(a.grpcL)
	}()
	go func() {
		defer a.wg.Done()
		_ = a.httpSrv.Serve(a.httpL)
	}()
}

func (a *clientAPI) close() error {
	a.once.Do(func() {
		a.ln.Close()
		a.gwCancel()
		a.gwConn.Close()
		a.httpSrv.Close()
		a.grpcSrv.Stop()
		a.grpcL.Close()
		a.httpL.Close()
		a.wg.Wait()
	})
	return nil
}

var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// split accepts connections and hands each to gRPC or HTTP by its first
// bytes.
func (a *clientAPI) split() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go a.classify(c)
	}
}

func (a *clientAPI) classify(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 4096)
	isGRPC := true
	for i := 1; i <= len(http2Preface); i++ {
		b, err := br.Peek(i)
		if err != nil {
			c.Close()
			return
		}
		if !bytes.Equal(b, http2Preface[:i]) {
			isGRPC = false
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	target := a.httpL
	if isGRPC {
		target = a.grpcL
	}
	if !target.deliver(pc) {
		c.Close()
	}
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by split.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
