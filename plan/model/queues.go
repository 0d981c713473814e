package model

// message is one raft message on a peer link, as much of it as the model needs.
type message struct {
	kind   uint8
	lo, hi int64 // mApp: entry indexes; mProp: positions in the sender's forward buffer
	commit int64
	match  int64
	n      int // mAppResp: how many responses it stands for
	bytes  int
}

// inMsg is a message delivered to a member, with its sender.
type inMsg struct {
	from int32
	message
}

// link is one direction of a peer link: FIFO, each message due at its
// send time plus the delay, never before the one ahead of it. Only its
// head has an event in the queue: due times on a link never decrease, so
// the next one is scheduled when the head is delivered, which keeps the
// event queue as small as the number of links however many messages are
// on the wire.
type link struct {
	q       []message
	due     []float64
	head    int
	lastDue float64
}

func (l *link) empty() bool { return l.head == len(l.q) }

func (l *link) push(m message, due float64) {
	l.q = append(l.q, m)
	l.due = append(l.due, due)
}

func (l *link) pop() message {
	m := l.q[l.head]
	l.head++
	switch {
	case l.head == len(l.q):
		l.q, l.due, l.head = l.q[:0], l.due[:0], 0
	case l.head >= 1024 && 2*l.head >= len(l.q):
		n := copy(l.q, l.q[l.head:])
		copy(l.due, l.due[l.head:])
		l.q, l.due, l.head = l.q[:n], l.due[:n], 0
	}
	return m
}

type pending struct {
	cost float64
	kind uint8
	m    int32
	a    int64
}

// pool is a set of cores taking tasks first come, first served, without
// preemption (the tasks are far shorter than the Go scheduler's 10 ms time
// slice), in two classes, after the runtime's runnext slot: a goroutine
// woken by a channel send from a running one (the raft loop by a proposal
// or a message, the applier by the loop, a request's handler by the
// applier) runs next on the waker's core, ahead of the run queue, but a
// waker has one such slot: the second goroutine it wakes waits in the
// queue like work that arrives from the network (new requests, responses
// at the generator) or from a timer (the end of an emulated disk's sleep).
type pool struct {
	cores    int // 0: unlimited
	busy     int
	hi, lo   taskQueue
	busyTime float64 // core-seconds of the tasks started
}

type taskQueue struct {
	q    []pending
	head int
}

func (t *taskQueue) empty() bool { return t.head == len(t.q) }

func (t *taskQueue) push(p pending) { t.q = append(t.q, p) }

func (t *taskQueue) pop() pending {
	p := t.q[t.head]
	t.head++
	switch {
	case t.head == len(t.q):
		t.q, t.head = t.q[:0], 0
	case t.head >= 1024 && 2*t.head >= len(t.q):
		n := copy(t.q, t.q[t.head:])
		t.q, t.head = t.q[:n], 0
	}
	return p
}

// woken says whether a task kind runs on a goroutine woken by another's
// send, so it may take the waker's runnext slot.
func woken(kind uint8) bool {
	return kind == tLoop || kind == tApply || kind == tReqOut || kind == tSaveCPU
}
