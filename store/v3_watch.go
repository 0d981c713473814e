package store

import (
	"errors"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/adrbench/adrbench/store/watch"
)

// watchServer implements etcd's Watch service on the watch hub.
type watchServer struct {
	pb.UnimplementedWatchServer
	hub     *watch.Hub
	headers headers
	// stopped is closed when the member stops.
	stopped <-chan struct{}
}

func (w *watchServer) Watch(stream pb.Watch_WatchServer) error {
	st := w.hub.NewStream()
	defer st.Close()
	recvErr := make(chan error, 1)
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
				st.Create(req.GetCreateRequest())
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
		case <-recvErr:
			return nil
		case <-stream.Context().Done():
			return nil
		case <-w.stopped:
			return toGRPC(ErrStopped)
		}
	}
}
