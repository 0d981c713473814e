package qualify

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ServeOptions bound what the responder gives each client.
type ServeOptions struct {
	// MaxConns is how many clients are answered at once; more are
	// closed at once.
	MaxConns int
	// IdleTimeout is how long a client may stay silent, or take to read
	// what it asked for, before it is dropped.
	IdleTimeout time.Duration
	// MaxConnLifetime ends any connection after this long.
	MaxConnLifetime time.Duration
}

// DefaultServeOptions answer 32 clients at once, drop one idle for 30 s
// and end every connection after 10 minutes: a qualification's probes
// take seconds.
func DefaultServeOptions() ServeOptions {
	return ServeOptions{MaxConns: 32, IdleTimeout: 30 * time.Second, MaxConnLifetime: 10 * time.Minute}
}

// Serve answers network probes on ln until ctx is done, then closes ln and
// waits for the connections it is serving to end. It returns nil when
// stopped by ctx.
func Serve(ctx context.Context, ln net.Listener, opts ServeOptions) error {
	if opts.MaxConns < 1 || opts.IdleTimeout <= 0 || opts.MaxConnLifetime <= 0 {
		return fmt.Errorf("%w: serve options %+v: want positive limits", ErrConfig, opts)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.MaxConns)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.Map // net.Conn -> struct{}, closed when ctx ends
	defer func() {
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close() // busy: the client sees the connection end
			continue
		}
		conns.Store(c, struct{}{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer conns.Delete(c)
			defer c.Close()
			if ctx.Err() != nil {
				return
			}
			_ = serveConn(c, opts)
		}()
	}
}

// serveConn answers one client until it leaves, breaks the protocol, stays
// idle too long or reaches the connection lifetime.
func serveConn(c net.Conn, opts ServeOptions) error {
	end := time.Now().Add(opts.MaxConnLifetime)
	deadline := func(d time.Duration) time.Time {
		t := time.Now().Add(d)
		if t.After(end) {
			return end
		}
		return t
	}
	if err := c.SetDeadline(deadline(opts.IdleTimeout)); err != nil {
		return err
	}
	r := bufio.NewReaderSize(c, maxFrame+frameHeader)
	v, err := readHello(r)
	if err != nil {
		return err
	}
	if err := writeHello(c); err != nil {
		return err
	}
	if v != protoVersion {
		return fmt.Errorf("%w: client speaks version %d, this responder %d", ErrProtocol, v, protoVersion)
	}
	fw := newFrameWriter(c)
	buf := make([]byte, maxFrame)
	var bulk uint64
	for {
		if err := c.SetDeadline(deadline(opts.IdleTimeout)); err != nil {
			return err
		}
		typ, payload, err := readFrame(r, buf)
		if err != nil {
			return err
		}
		switch typ {
		case framePing:
			err = fw.write(framePong, payload)
		case frameBulk:
			bulk += uint64(len(payload))
		case frameSync:
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], bulk)
			bulk = 0
			err = fw.write(frameSynced, b[:])
		case frameDownload:
			err = sendBulk(c, fw, payload, deadline(opts.IdleTimeout), end)
		default:
			return fmt.Errorf("%w: unknown frame type %q", ErrProtocol, typ)
		}
		if err != nil {
			return err
		}
	}
}

// sendBulk streams bulk frames for the requested time, then an end frame
// with the count; the write deadline allows the request's time on top of
// the idle timeout, never past the connection's end.
func sendBulk(c net.Conn, fw *frameWriter, payload []byte, idle, end time.Time) error {
	if len(payload) != 4 {
		return fmt.Errorf("%w: download request of %d bytes (want 4)", ErrProtocol, len(payload))
	}
	d := time.Duration(binary.BigEndian.Uint32(payload)) * time.Millisecond
	if d > maxDownload {
		return fmt.Errorf("%w: download of %v (at most %v)", ErrProtocol, d, maxDownload)
	}
	wd := idle.Add(d)
	if wd.After(end) {
		wd = end
	}
	if err := c.SetWriteDeadline(wd); err != nil {
		return err
	}
	chunk := make([]byte, maxFrame)
	var sent uint64
	stopAt := time.Now().Add(d)
	for time.Now().Before(stopAt) {
		if err := fw.write(frameBulk, chunk); err != nil {
			return err
		}
		sent += uint64(len(chunk))
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sent)
	return fw.write(frameEnd, b[:])
}
