package qualify

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// peerResult is what the probes to one peer measured.
type peerResult struct {
	RTT            *hdrhistogram.Histogram // ns, answered probes only
	Probes, Lost   int
	UpMbit, DnMbit float64
}

// clientEvent is a frame the client's reader received, or its end.
type clientEvent struct {
	typ byte
	seq uint64 // pongs: the probe's sequence number; synced and end frames: the count
	at  time.Time
	err error
}

// probePeer measures the round trip, loss and throughput to a responder:
// d.NetProbes pings d.NetInterval apart, each lost when unanswered within
// d.NetTimeout; then bulk data each way for d.NetThroughput.
func probePeer(ctx context.Context, addr string, d Limits, tick func(string)) (peerResult, error) {
	dialer := net.Dialer{Timeout: max(d.NetTimeout, 3*time.Second)}
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return peerResult{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.SetDeadline(time.Now().Add(dialer.Timeout)); err != nil {
		return peerResult{}, err
	}
	if err := writeHello(c); err != nil {
		return peerResult{}, fmt.Errorf("handshake: %w", err)
	}
	br := bufio.NewReaderSize(c, maxFrame+frameHeader)
	v, err := readHello(br)
	if err != nil {
		return peerResult{}, fmt.Errorf("handshake: %w", err)
	}
	if v != protoVersion {
		return peerResult{}, fmt.Errorf("%w: the peer speaks protocol version %d, this adrbench %d: run the same adrbench on both", ErrProtocol, v, protoVersion)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return peerResult{}, err
	}

	events := make(chan clientEvent, 64)
	done := make(chan struct{})
	defer close(done)
	go readEvents(br, events, done)
	fw := newFrameWriter(c)
	send := func(typ byte, payload []byte) error {
		if err := c.SetWriteDeadline(time.Now().Add(d.NetTimeout + time.Second)); err != nil {
			return err
		}
		return fw.write(typ, payload)
	}
	// wait returns the next event of type typ (and, for pongs, sequence
	// seq), dropping late pongs of earlier probes; ok is false on timeout.
	wait := func(typ byte, seq uint64, timeout time.Duration) (clientEvent, bool, error) {
		t := time.NewTimer(timeout)
		defer t.Stop()
		for {
			select {
			case ev := <-events:
				if ev.err != nil {
					return ev, false, ev.err
				}
				if ev.typ == typ && (typ != framePong || ev.seq == seq) {
					return ev, true, nil
				}
			case <-t.C:
				return clientEvent{}, false, nil
			case <-ctx.Done():
				return clientEvent{}, false, ctx.Err()
			}
		}
	}

	res := peerResult{RTT: newLatencyHistogram()}
	ping := make([]byte, 56) // with the header, a 61-byte segment, like a small raft message
	for i := range d.NetProbes {
		binary.BigEndian.PutUint64(ping, uint64(i))
		t0 := time.Now()
		if err := send(framePing, ping); err != nil {
			return res, fmt.Errorf("probe %d: %w", i, err)
		}
		res.Probes++
		ev, ok, err := wait(framePong, uint64(i), d.NetTimeout)
		if err != nil {
			return res, fmt.Errorf("probe %d: %w", i, err)
		}
		if !ok {
			res.Lost++
		} else {
			_ = res.RTT.RecordValue(int64(ev.at.Sub(t0)))
		}
		if tick != nil && i%50 == 49 {
			tick(fmt.Sprintf("%d/%d probes, p99 %s ms", i+1, d.NetProbes, formatNumber(ms(res.RTT.ValueAtQuantile(99)))))
		}
		if rest := d.NetInterval - time.Since(t0); rest > 0 {
			select {
			case <-time.After(rest):
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}

	// Upload: bulk frames for the duration, then a sync whose answer
	// says how much arrived.
	if tick != nil {
		tick("throughput to the peer")
	}
	chunk := make([]byte, maxFrame)
	t0 := time.Now()
	for time.Since(t0) < d.NetThroughput {
		if err := send(frameBulk, chunk); err != nil {
			return res, fmt.Errorf("upload: %w", err)
		}
	}
	if err := send(frameSync, nil); err != nil {
		return res, fmt.Errorf("upload: %w", err)
	}
	ev, ok, err := wait(frameSynced, 0, d.NetTimeout+10*time.Second)
	if err != nil || !ok {
		return res, fmt.Errorf("upload: no answer from the peer: %v", err)
	}
	res.UpMbit = float64(ev.seq) * 8 / ev.at.Sub(t0).Seconds() / 1e6

	if tick != nil {
		tick("throughput from the peer")
	}
	var req [4]byte
	binary.BigEndian.PutUint32(req[:], uint32(min(d.NetThroughput, maxDownload).Milliseconds()))
	t0 = time.Now()
	if err := send(frameDownload, req[:]); err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	ev, ok, err = wait(frameEnd, 0, d.NetThroughput+d.NetTimeout+10*time.Second)
	if err != nil || !ok {
		return res, fmt.Errorf("download: no end from the peer: %v", err)
	}
	res.DnMbit = float64(ev.seq) * 8 / ev.at.Sub(t0).Seconds() / 1e6
	return res, nil
}

// readEvents reads frames until the connection ends, passing on pongs
// (with their sequence), sync answers and download ends (with their
// counts); bulk data is only read. It returns when done is closed.
func readEvents(br *bufio.Reader, events chan<- clientEvent, done <-chan struct{}) {
	buf := make([]byte, maxFrame)
	emit := func(ev clientEvent) bool {
		select {
		case events <- ev:
			return true
		case <-done:
			return false
		}
	}
	for {
		typ, payload, err := readFrame(br, buf)
		at := time.Now()
		if err != nil {
			emit(clientEvent{err: err})
			return
		}
		switch typ {
		case frameBulk:
			continue
		case framePong, frameSynced, frameEnd:
			if len(payload) < 8 {
				emit(clientEvent{err: fmt.Errorf("%w: %q frame of %d bytes", ErrProtocol, typ, len(payload))})
				return
			}
			if !emit(clientEvent{typ: typ, seq: binary.BigEndian.Uint64(payload), at: at}) {
				return
			}
		default:
			emit(clientEvent{err: fmt.Errorf("%w: unexpected frame type %q", ErrProtocol, typ)})
			return
		}
	}
}

// netGroup probes every peer. A peer that cannot be reached fails its RTT
// check with the reason and skips its other checks; the other peers and
// groups still run.
func (r *runner) netGroup(ctx context.Context) error {
	if len(r.cfg.Peers) == 0 {
		for _, n := range []string{"net.rtt_p99", "net.loss", "net.throughput"} {
			r.add(skipped(r.prof, n, "no --peers given: run `adrbench qualify serve --listen :PORT` on the other members and list them"))
		}
		return nil
	}
	for _, peer := range r.cfg.Peers {
		expect := time.Duration(r.dur.NetProbes)*r.dur.NetInterval + 2*r.dur.NetThroughput
		r.prog.begin("net: probing "+peer, expect)
		res, err := probePeer(ctx, peer, r.dur, func(s string) { r.prog.detail("%s", s) })
		r.prog.end()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, c := range peerChecks(r.prof, peer, res, err) {
			r.add(c)
		}
		if res.RTT != nil && res.RTT.TotalCount() > 0 {
			r.addHist("net.rtt_p99", "rtt-"+sanitize(peer), "round trip to "+peer, res.RTT)
		}
	}
	return nil
}

// peerChecks judges one peer's probes. err is why probing stopped, if it
// did: before any probe was answered it fails the RTT check; after, the
// figures measured so far are kept and what was not measured skips.
func peerChecks(p Profile, peer string, res peerResult, err error) []Check {
	with := func(c Check) Check { c.Peer = peer; return c }
	answered := int64(0)
	if res.RTT != nil {
		answered = res.RTT.TotalCount()
	}
	if answered == 0 {
		why := "no probe was answered"
		if err != nil {
			why = "unreachable: " + err.Error()
		}
		return []Check{
			with(failed(p, "net.rtt_p99", why)),
			with(skipped(p, "net.loss", "the peer is unreachable")),
			with(skipped(p, "net.throughput", "the peer is unreachable")),
		}
	}
	rtt := with(judge(p, "net.rtt_p99", ms(res.RTT.ValueAtQuantile(99))))
	rtt.Details = map[string]float64{"p50_ms": ms(res.RTT.ValueAtQuantile(50)), "max_ms": ms(res.RTT.Max()), "probes": float64(res.Probes)}
	rtt.Text = fmt.Sprintf("p50 %s ms over %d answered probes; etcd's heartbeat should be about the RTT and its election timeout at least 10x", formatNumber(rtt.Details["p50_ms"]), answered)
	loss := with(judge(p, "net.loss", 100*float64(res.Lost)/float64(res.Probes)))
	loss.Text = fmt.Sprintf("%d of %d probes unanswered", res.Lost, res.Probes)
	var tput Check
	switch {
	case res.UpMbit > 0 && res.DnMbit > 0:
		tput = with(judge(p, "net.throughput", min(res.UpMbit, res.DnMbit)))
		tput.Details = map[string]float64{"up_mbit_s": res.UpMbit, "down_mbit_s": res.DnMbit}
		tput.Text = fmt.Sprintf("to the peer %s Mbit/s, from it %s Mbit/s", formatNumber(res.UpMbit), formatNumber(res.DnMbit))
	case err != nil:
		tput = with(failed(p, "net.throughput", "probing stopped: "+err.Error()))
	default:
		tput = with(failed(p, "net.throughput", "nothing was transferred"))
	}
	if err != nil && !errors.Is(err, context.Canceled) && tput.Verdict != Fail {
		tput.Reason = "probing stopped: " + err.Error()
	}
	return []Check{rtt, loss, tput}
}
