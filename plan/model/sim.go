package model

import "math/rand/v2"

// Event kinds. The first three are things that happen to the simulation;
// the rest are CPU tasks that have finished.
const (
	evArrival  uint8 = iota // an open-loop write falls due
	evDeliver               // the head of the link from a to m reaches m
	evSaveDone              // member m's Save returns
	evMarkEnd               // the measured window closes (open loop)
	evGCEnd                 // the collector's mark phase ends
	tGenSend                // the generator sent request a
	tReqIn                  // member m took request a
	tLoop                   // member m's loop pass finished its CPU work
	tApply                  // member m applied entries up to index a
	tReqOut                 // member m answered request a
	tGenRecv                // the generator took request a's response
	tSaveCPU                // member m's log backend worked for a Save (nothing follows)
)

// Message kinds on peer links.
const (
	mApp     uint8 = iota // leader → follower: entries lo..hi and the commit index
	mAppResp              // follower → leader: the follower has saved up to match
	mProp                 // follower → leader: forwarded proposals
)

// msgHeader is the bytes of a raft message around its entries.
const msgHeader = 64

// applyChunk is how many committed entries one apply task takes: the
// applier answers waiters entry by entry, so a long batch must not hold
// every answer back until its end.
const applyChunk = 32

type request struct {
	due      float64 // intended send time
	member   int32   // the member the client's connection goes to
	worker   int32
	measured bool
}

type member struct {
	pool int16

	loopBusy  bool
	loopStart float64
	loopTime  float64
	props     []int64 // request ids waiting to be proposed
	propHead  int
	inbox     []inMsg
	inHead    int

	last, saved, commit int64
	applyQueued         int64
	applied             int64
	applierBusy         bool

	// The loop pass in progress.
	cycNew    int64
	cycCommit int64
	cycResp   int
	cycFwdLo  int64
	cycFwdHi  int64
	saveTo    int64
	saveStart float64
	saveTime  float64
	saves     int
	entries   int64
	passes    int
	appended  int64 // entries appended by passes
	msgs      int64 // messages taken and sent by passes
	bytes     int64

	// Leader: what each follower has saved, and what it was sent.
	match      []int64
	sent       []int64
	sentCommit []int64
	// Follower: proposals forwarded to the leader, by position.
	fwd []int64
}

type sim struct {
	cfg    Config
	rng    *rand.Rand
	now    float64
	ev     events
	pools  []pool
	client int16 // the generator's pool
	ms     []member
	links  [][]link
	log    []int64 // request id of each log index; index 0 unused
	reqs   []request
	quorum int
	total  int

	// load
	ticket   int
	nextDue  float64
	free     []int32 // idle workers, FIFO
	freeHead int
	backlog  []float64
	backHead int

	// The collector: bytes allocated since the last cycle started, the
	// live heap it marks, entries all members have appended, and whether
	// (until when) a mark phase runs.
	gcAlloc   float64
	gcLive    float64
	gcEntries int64
	gcMarking bool
	gcCycles  int
	gcMarked  float64 // seconds spent marking, to the last cycle's end
	gcStart   float64

	// runnext says whether what is being dispatched may still hand a
	// woken goroutine its core's runnext slot.
	runnext bool

	// measurement
	lats       []float64
	dues       []float64 // due times of the measured writes, as lats
	inWindow   bool
	winStart   float64
	winEnd     float64
	winDone    int
	lastDone   float64
	busy0      []float64
	busy1      []float64
	loop0      []float64
	loop1      []float64
	save0      []float64
	save1      []float64
	saves0     []int
	saves1     []int
	entries0   []int64
	entries1   []int64
	passes0    [4]int64
	passes1    [4]int64
	gc0, gc1   [2]float64 // cycles started and seconds marked
	nevents    int
	windowOpen bool
}

// Simulate runs one configuration to the end of its measured writes.
func Simulate(cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 512
	}
	s := newSim(cfg)
	s.start()
	for s.ev.len() > 0 {
		e := s.ev.pop()
		s.now = e.t
		s.nevents++
		s.dispatch(e)
	}
	return s.result()
}

func newSim(cfg Config) *sim {
	n := cfg.Nodes
	s := &sim{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		ms:     make([]member, n),
		quorum: n/2 + 1,
		total:  cfg.Warmup + cfg.Measure,
	}
	if cfg.SharedCores > 0 {
		s.pools = []pool{{cores: cfg.SharedCores}}
		s.client = 0
	} else {
		s.pools = make([]pool, n+1)
		for i := range n {
			s.pools[i].cores = cfg.CoresPerMember
			s.ms[i].pool = int16(i)
		}
		s.pools[n].cores = cfg.ClientCores
		s.client = int16(n)
	}
	s.gcLive = cfg.GC.LiveBase
	s.links = make([][]link, n)
	for i := range s.links {
		s.links[i] = make([]link, n)
	}
	lead := &s.ms[0]
	lead.match = make([]int64, n)
	lead.sent = make([]int64, n)
	lead.sentCommit = make([]int64, n)
	s.log = make([]int64, 1, s.total+1)
	s.reqs = make([]request, 0, s.total)
	s.lats = make([]float64, 0, cfg.Measure)
	s.dues = make([]float64, 0, cfg.Measure)
	np := len(s.pools)
	s.busy0, s.busy1 = make([]float64, np), make([]float64, np)
	s.loop0, s.loop1 = make([]float64, n), make([]float64, n)
	s.save0, s.save1 = make([]float64, n), make([]float64, n)
	s.saves0, s.saves1 = make([]int, n), make([]int, n)
	s.entries0, s.entries1 = make([]int64, n), make([]int64, n)
	return s
}

func (s *sim) start() {
	l := s.cfg.Load
	if l.Closed {
		for w := range min(l.Clients, s.total) {
			s.issue(int32(w), 0)
		}
		return
	}
	for w := range l.Clients {
		s.free = append(s.free, int32(w))
	}
	s.ev.push(event{t: 0, kind: evArrival, p: -1})
}

func (s *sim) dispatch(e event) {
	// A link's deliverer and a finished task are running goroutines whose
	// sends may hand over their core; arrivals and the end of a Save come
	// from the network poller or a timer.
	s.runnext = e.kind == evDeliver || e.kind >= tGenSend
	switch e.kind {
	case evArrival:
		s.arrive()
		return
	case evDeliver:
		s.deliver(e.m, int32(e.a))
		return
	case evSaveDone:
		s.saveDone(e.m)
		return
	case evMarkEnd:
		s.markEnd()
		return
	case evGCEnd:
		s.gcEnd()
		return
	}
	if e.p >= 0 {
		// The core is free: a goroutine the finished task wakes takes it
		// (runnext); fill then gives what is left to the queue.
		s.pools[e.p].busy--
		defer s.fill(e.p)
	}
	c := &s.cfg.Costs
	switch e.kind {
	case tGenSend:
		r := &s.reqs[e.a]
		s.submit(s.ms[r.member].pool, c.ReqIn, tReqIn, r.member, e.a)
	case tReqIn:
		m := &s.ms[e.m]
		m.props = append(m.props, e.a)
		s.kick(e.m)
	case tLoop:
		if e.m == 0 {
			s.leaderSend()
		} else {
			s.followerSaved(e.m)
		}
	case tApply:
		s.applied(e.m, e.a)
	case tReqOut:
		s.submit(s.client, c.GenRecv, tGenRecv, e.m, e.a)
	case tGenRecv:
		s.done(e.a)
	}
}

// submit queues a task on pool p; it finishes (event kind) after its cost
// on a core. A task that costs nothing needs no core.
func (s *sim) submit(p int16, cost float64, kind uint8, m int32, a int64) {
	if s.cfg.ExpCosts && cost > 0 {
		cost *= s.rng.ExpFloat64()
	}
	if cost <= 0 {
		s.ev.push(event{t: s.now, kind: kind, p: -1, m: m, a: a})
		return
	}
	pl := &s.pools[p]
	if !s.gcMarking && (pl.cores == 0 || pl.busy < pl.cores) {
		pl.busy++
		pl.busyTime += cost
		s.ev.push(event{t: s.now + cost, kind: kind, p: p, m: m, a: a})
		return
	}
	t := pending{cost: cost, kind: kind, m: m, a: a}
	if woken(kind) && s.runnext {
		s.runnext = false
		pl.hi.push(t)
	} else {
		pl.lo.push(t)
	}
}

// fill starts queued tasks on pool p's free cores, runnext ones first;
// none while the collector marks.
func (s *sim) fill(p int16) {
	pl := &s.pools[p]
	for !s.gcMarking && (pl.cores == 0 || pl.busy < pl.cores) {
		var t pending
		switch {
		case !pl.hi.empty():
			t = pl.hi.pop()
		case !pl.lo.empty():
			t = pl.lo.pop()
		default:
			return
		}
		pl.busy++
		pl.busyTime += t.cost
		s.ev.push(event{t: s.now + t.cost, kind: t.kind, p: p, m: t.m, a: t.a})
	}
}

// allocate counts bytes the process allocates and starts a collection
// cycle once they reach the collector's percent of the live heap.
func (s *sim) allocate(bytes float64) {
	g := &s.cfg.GC
	if g.Percent == 0 {
		return
	}
	s.gcAlloc += bytes
	if s.gcMarking || s.gcAlloc < s.gcLive*g.Percent/100 {
		return
	}
	s.gcAlloc = 0
	s.gcMarking, s.gcStart = true, s.now
	s.gcCycles++
	mark := g.MarkPerByte * s.gcLive / (g.Share * float64(s.cfg.SharedCores))
	s.ev.push(event{t: s.now + mark, kind: evGCEnd, p: -1})
}

// gcEnd ends a mark phase, and the tasks queued while it marked start;
// the heap it leaves live holds every entry the members have appended.
func (s *sim) gcEnd() {
	s.gcMarking = false
	s.gcMarked += s.now - s.gcStart
	s.gcLive = s.cfg.GC.LiveBase + s.cfg.GC.LivePerEntry*float64(s.gcEntries)
	for p := range s.pools {
		s.fill(int16(p))
	}
}

// arrive takes the next open-loop ticket.
func (s *sim) arrive() {
	due := s.nextDue
	t := s.ticket
	s.ticket++
	if t == s.cfg.Warmup {
		s.markStart()
	}
	if s.freeHead < len(s.free) {
		w := s.free[s.freeHead]
		s.freeHead++
		s.issue(w, due)
	} else {
		s.backlog = append(s.backlog, due)
	}
	if s.ticket < s.total {
		if s.cfg.Load.Poisson {
			s.nextDue += s.rng.ExpFloat64() / s.cfg.Load.Rate
		} else {
			s.nextDue = float64(s.ticket) / s.cfg.Load.Rate
		}
		s.ev.push(event{t: s.nextDue, kind: evArrival, p: -1})
	} else {
		end := due + 1/s.cfg.Load.Rate
		s.ev.push(event{t: end, kind: evMarkEnd, p: -1})
	}
}

// issue sends a new request from worker w, due at due.
func (s *sim) issue(w int32, due float64) {
	id := int64(len(s.reqs))
	l := s.cfg.Load
	var mem int32
	if !l.ToLeader {
		mem = int32((int(w) % l.Conns) % s.cfg.Nodes)
	}
	s.reqs = append(s.reqs, request{due: due, member: mem, worker: w, measured: int(id) >= s.cfg.Warmup})
	s.allocate(s.cfg.GC.AllocWrite)
	if l.Closed {
		if int(id) == s.cfg.Warmup {
			s.markStart()
		}
		if int(id) == s.total-1 {
			s.markEnd()
		}
	}
	s.submit(s.client, s.cfg.Costs.GenSend, tGenSend, mem, id)
}

// done completes request id at the generator and frees its worker.
func (s *sim) done(id int64) {
	r := &s.reqs[id]
	if r.measured {
		s.lats = append(s.lats, s.now-r.due)
		s.dues = append(s.dues, r.due)
		s.lastDone = s.now
	}
	if s.inWindow {
		s.winDone++
	}
	if s.cfg.Load.Closed {
		if len(s.reqs) < s.total {
			s.issue(r.worker, s.now)
		}
		return
	}
	if s.backHead < len(s.backlog) {
		due := s.backlog[s.backHead]
		s.backHead++
		s.issue(r.worker, due)
		return
	}
	s.free = append(s.free, r.worker)
}

func (s *sim) markStart() {
	s.inWindow, s.windowOpen, s.winStart = true, true, s.now
	s.snapshot(s.busy0, s.loop0, s.save0, s.saves0, s.entries0)
	s.passes0 = s.totalPasses()
	s.gc0 = s.gcSoFar()
}

// gcSoFar is the collection cycles started and the seconds spent marking
// up to now.
func (s *sim) gcSoFar() [2]float64 {
	t := s.gcMarked
	if s.gcMarking {
		t += s.now - s.gcStart
	}
	return [2]float64{float64(s.gcCycles), t}
}

// totalPasses sums the members' passes, entries appended, messages and
// bytes.
func (s *sim) totalPasses() [4]int64 {
	var t [4]int64
	for i := range s.ms {
		m := &s.ms[i]
		t[0] += int64(m.passes)
		t[1] += m.appended
		t[2] += m.msgs
		t[3] += m.bytes
	}
	return t
}

func (s *sim) markEnd() {
	if !s.inWindow {
		return
	}
	s.inWindow, s.winEnd = false, s.now
	s.snapshot(s.busy1, s.loop1, s.save1, s.saves1, s.entries1)
	s.passes1 = s.totalPasses()
	s.gc1 = s.gcSoFar()
}

func (s *sim) snapshot(busy, loop, save []float64, saves []int, entries []int64) {
	for i := range s.pools {
		busy[i] = s.pools[i].busyTime
	}
	for i := range s.ms {
		m := &s.ms[i]
		loop[i] = m.loopTime
		if m.loopBusy {
			loop[i] += s.now - m.loopStart
		}
		save[i], saves[i], entries[i] = m.saveTime, m.saves, m.entries
	}
}

// kick starts a loop pass on member i if it is idle and has work.
func (s *sim) kick(i int32) {
	m := &s.ms[i]
	if m.loopBusy {
		return
	}
	has := m.propHead < len(m.props) || m.inHead < len(m.inbox)
	if i == 0 && !has {
		has = s.quorumCommit() > m.commit
	}
	if !has {
		return
	}
	m.loopBusy, m.loopStart = true, s.now
	m.passes++
	if i == 0 {
		s.leaderPass()
	} else {
		s.followerPass(i)
	}
}

func (s *sim) loopIdle(i int32) {
	m := &s.ms[i]
	m.loopBusy = false
	m.loopTime += s.now - m.loopStart
	s.kick(i)
}

// takeInbox returns the messages one pass takes.
func (s *sim) takeInbox(m *member) []inMsg {
	k := min(len(m.inbox)-m.inHead, s.cfg.MaxBatch)
	in := m.inbox[m.inHead : m.inHead+k]
	m.inHead += k
	return in
}

func (s *sim) compactInbox(m *member) {
	if m.inHead == len(m.inbox) {
		m.inbox, m.inHead = m.inbox[:0], 0
	}
	if m.propHead == len(m.props) {
		m.props, m.propHead = m.props[:0], 0
	}
}

// leaderPass steps what the leader has received and proposes what its
// clients sent, then pays the pass's CPU; leaderSend follows.
func (s *sim) leaderPass() {
	m := &s.ms[0]
	c := &s.cfg.Costs
	var msgs, bytes int
	var newEnts int64
	for _, in := range s.takeInbox(m) {
		msgs++
		bytes += in.bytes
		switch in.kind {
		case mAppResp:
			m.match[in.from] = max(m.match[in.from], in.match)
		case mProp:
			f := &s.ms[in.from]
			for pos := in.lo; pos < in.hi; pos++ {
				s.log = append(s.log, f.fwd[pos])
				newEnts++
			}
		}
	}
	k := min(len(m.props)-m.propHead, s.cfg.MaxBatch)
	for _, id := range m.props[m.propHead : m.propHead+k] {
		s.log = append(s.log, id)
	}
	m.propHead += k
	newEnts += int64(k)
	s.compactInbox(m)
	m.last = int64(len(s.log) - 1)
	m.cycNew = newEnts
	m.cycCommit = s.quorumCommit()
	out, outBytes := 0, 0
	for f := 1; f < s.cfg.Nodes; f++ {
		if m.last > m.sent[f] || m.cycCommit > m.sentCommit[f] {
			out++
			outBytes += msgHeader + int(m.last-m.sent[f])*s.cfg.EntryBytes
		}
	}
	m.appended += newEnts
	m.msgs += int64(msgs + out)
	m.bytes += int64(bytes + outBytes)
	s.appendedGC(newEnts)
	cost := c.Ready + float64(newEnts)*c.Entry + float64(msgs+out)*c.Msg + float64(bytes+outBytes)*c.Byte
	s.submit(m.pool, cost, tLoop, 0, 0)
}

// leaderSend sends the pass's appends, hands committed entries to the
// applier, then saves: the leader sends before it persists (raft thesis
// §10.2.1), as the store does.
func (s *sim) leaderSend() {
	m := &s.ms[0]
	for f := 1; f < s.cfg.Nodes; f++ {
		if m.last > m.sent[f] || m.cycCommit > m.sentCommit[f] {
			s.send(0, int32(f), message{kind: mApp, lo: m.sent[f] + 1, hi: m.last, commit: m.cycCommit,
				bytes: msgHeader + int(m.last-m.sent[f])*s.cfg.EntryBytes})
			m.sent[f], m.sentCommit[f] = m.last, m.cycCommit
		}
	}
	if m.cycCommit > m.commit {
		m.commit = m.cycCommit
		m.applyQueued = m.commit
		s.kickApplier(0)
	}
	s.save(0)
}

// followerPass steps the appends and proposals a follower has, then pays
// the pass's CPU; followerSaved follows.
func (s *sim) followerPass(i int32) {
	m := &s.ms[i]
	c := &s.cfg.Costs
	var msgs, bytes, apps int
	var newEnts int64
	for _, in := range s.takeInbox(m) {
		msgs++
		bytes += in.bytes
		if in.kind != mApp {
			continue
		}
		apps++
		if in.hi > m.last {
			newEnts += in.hi - max(in.lo-1, m.last)
			m.last = in.hi
		}
		m.commit = max(m.commit, min(in.commit, in.hi))
	}
	k := min(len(m.props)-m.propHead, s.cfg.MaxBatch)
	m.cycFwdLo = int64(len(m.fwd))
	m.fwd = append(m.fwd, m.props[m.propHead:m.propHead+k]...)
	m.cycFwdHi = int64(len(m.fwd))
	m.propHead += k
	s.compactInbox(m)
	out, outBytes := apps, apps*msgHeader
	if k > 0 {
		out++
		outBytes += msgHeader + k*s.cfg.EntryBytes
	}
	m.cycNew, m.cycResp = newEnts, apps
	m.appended += newEnts
	m.msgs += int64(msgs + out)
	m.bytes += int64(bytes + outBytes)
	s.appendedGC(newEnts)
	cost := c.Ready + float64(newEnts)*c.Entry + float64(msgs+out)*c.Msg + float64(bytes+outBytes)*c.Byte
	s.submit(m.pool, cost, tLoop, i, 0)
}

// appendedGC counts entries a member appended: they stay live, and
// appending and applying them allocates.
func (s *sim) appendedGC(n int64) {
	s.gcEntries += n
	s.allocate(float64(n) * s.cfg.GC.AllocEntry)
}

// followerSaved saves what the pass appended (a follower answers only
// after its Save).
func (s *sim) followerSaved(i int32) { s.save(i) }

// save starts member i's Save of the pass's new entries; a pass with
// none records at most a commit index and needs no sync.
func (s *sim) save(i int32) {
	m := &s.ms[i]
	m.saveTo = m.last
	disk := &s.cfg.Disk
	if i == 0 && s.cfg.LeaderDisk != nil {
		disk = s.cfg.LeaderDisk
	}
	// The backend's CPU (encoding, a sync's kernel time, a flush) is
	// spent while the Save runs, inside its measured latency: it takes a
	// core alongside, it does not come before it.
	c := &s.cfg.Costs
	s.submit(m.pool, c.SaveCall+float64(m.cycNew)*c.SaveEntry, tSaveCPU, i, 0)
	lat := disk.NoSync
	if m.cycNew > 0 {
		lat = s.draw(disk) + float64(m.cycNew-1)*disk.PerEntry
		m.saves++
		m.entries += m.cycNew
	}
	if lat <= 0 {
		s.saveDone(i)
		return
	}
	m.saveStart = s.now
	s.ev.push(event{t: s.now + lat, kind: evSaveDone, p: -1, m: i})
}

func (s *sim) draw(d *Disk) float64 {
	q := d.Quantiles
	x := s.rng.Float64() * float64(len(q)-1)
	j := int(x)
	if j >= len(q)-1 {
		return q[len(q)-1]
	}
	return q[j] + (x-float64(j))*(q[j+1]-q[j])
}

func (s *sim) saveDone(i int32) {
	m := &s.ms[i]
	if m.cycNew > 0 || s.cfg.Disk.NoSync > 0 {
		m.saveTime += s.now - m.saveStart
	}
	m.saved = m.saveTo
	if i != 0 {
		if m.cycResp > 0 {
			s.send(i, 0, message{kind: mAppResp, match: m.saved, n: m.cycResp, bytes: m.cycResp * msgHeader})
		}
		if m.cycFwdHi > m.cycFwdLo {
			k := int(m.cycFwdHi - m.cycFwdLo)
			s.send(i, 0, message{kind: mProp, lo: m.cycFwdLo, hi: m.cycFwdHi, bytes: msgHeader + k*s.cfg.EntryBytes})
		}
		if q := min(m.commit, m.saved); q > m.applyQueued {
			m.applyQueued = q
			s.kickApplier(i)
		}
	}
	s.loopIdle(i)
}

// quorumCommit is the highest index a quorum has saved: the leader's own
// Save counts once it returns, each follower's once its response arrives.
func (s *sim) quorumCommit() int64 {
	m := &s.ms[0]
	n := s.cfg.Nodes
	if n == 1 {
		return m.saved
	}
	var buf [64]int64
	v := buf[:n]
	v[0] = m.saved
	copy(v[1:], m.match[1:])
	// Insertion sort, largest first: n is small.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && v[j] > v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v[s.quorum-1]
}

func (s *sim) send(from, to int32, msg message) {
	l := &s.links[from][to]
	d := s.cfg.Delay
	if s.cfg.Jitter > 0 {
		d += (2*s.rng.Float64() - 1) * s.cfg.Jitter
	}
	due := s.now + max(d, 0)
	if due < l.lastDue {
		due = l.lastDue
	}
	l.lastDue = due
	if l.empty() {
		s.ev.push(event{t: due, kind: evDeliver, p: -1, m: to, a: int64(from)})
	}
	l.push(msg, due)
}

func (s *sim) deliver(to, from int32) {
	l := &s.links[from][to]
	msg := l.pop()
	if !l.empty() {
		s.ev.push(event{t: l.due[l.head], kind: evDeliver, p: -1, m: to, a: int64(from)})
	}
	m := &s.ms[to]
	m.inbox = append(m.inbox, inMsg{from: from, message: msg})
	s.kick(to)
}

func (s *sim) kickApplier(i int32) {
	m := &s.ms[i]
	if m.applierBusy || m.applyQueued <= m.applied {
		return
	}
	to := min(m.applyQueued, m.applied+applyChunk)
	m.applierBusy = true
	s.submit(m.pool, float64(to-m.applied)*s.cfg.Costs.Apply, tApply, i, to)
}

func (s *sim) applied(i int32, to int64) {
	m := &s.ms[i]
	for idx := m.applied + 1; idx <= to; idx++ {
		id := s.log[idx]
		if s.reqs[id].member == i {
			s.submit(m.pool, s.cfg.Costs.ReqOut, tReqOut, i, id)
		}
	}
	m.applied = to
	m.applierBusy = false
	s.kickApplier(i)
}
