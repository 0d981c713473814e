package store

import (
	"errors"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/adrbench/adrbench/store/watch"
)

// watchServer implements etcd's Watch service on the watch hub.
type watchServer struct {
	pb.UnimplementedWatchServer
	hub     *watch.Hub
	headers headers
	// stopped is closed when the member stops.
	stopped <-chan struct{}
	auth    *authenticator
}

func (w *watchServer) Watch(stream pb.Watch_WatchServer) error {
	st := w.hub.NewStream()
	defer st.Close()
	recvErr := make(chan error, 1)
	// denied carries the answers to watches the user may not create; only
	// the loop below sends on the stream.
	denied := make(chan *pb.WatchResponse, 16)
	go func() {
		for {
			req, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				// A half-close (the JSON gateway sends its one request and
				// closes) ends the requests, not the events: keep sending
				// until the client goes away, as etcd does.
				return
			}
			if err != nil {
				recvErr <- err
				return
			}
			switch {
			case req.GetCreateRequest() != nil:
				cr := req.GetCreateRequest()
				if err := w.auth.checkRange(stream.Context(), cr.GetKey(), cr.GetRangeEnd()); err != nil {
					// etcd answers a watch on keys the user may not read
					// as created and at once canceled, with the reason.
					select {
					case denied <- &pb.WatchResponse{WatchId: -1, Created: true, Canceled: true, CancelReason: rpctypes.ErrGRPCPermissionDenied.Error()}:
					case <-stream.Context().Done():
						return
					}
					continue
				}
				st.Create(cr)
			case req.GetCancelRequest() != nil:
				st.Cancel(req.GetCancelRequest().GetWatchId())
			case req.GetProgressRequest() != nil:
				st.RequestProgress()
			}
		}
	}()
	for {
		select {
		case resp, ok := <-st.Chan():
			if !ok {
				return nil
			}
			resp.Header = w.headers.fill(resp.GetHeader())
			if err := stream.Send(resp); err != nil {
				return err
			}
		case resp := <-denied:
			resp.Header = w.headers.fill(nil)
			if err := stream.Send(resp); err != nil {
				return err
			}
		case <-recvErr:
			return nil
		case <-stream.Context().Done():
			return nil
		case <-w.stopped:
			return toGRPC(ErrStopped)
		}
	}
}
