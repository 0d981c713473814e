package mvcc

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"

	"github.com/adrbench/adrbench/internal/latency"
)

var (
	bucketKey   = []byte("key")
	bucketMeta  = []byte("meta")
	bucketLease = []byte("lease")
	// bucketMembers holds the attributes (name, client URLs) each member
	// published through raft, keyed by member id, so that they survive
	// log compaction and travel in snapshots like etcd's members bucket.
	bucketMembers = []byte("members")

	metaConsistentIndex = []byte("consistent_index")
	metaRev             = []byte("current_rev")
	metaCompactRev      = []byte("compact_rev")
)

// Store is the MVCC state machine. One goroutine (the raft apply loop)
// calls Apply; any number call the readers concurrently.
//
// Locking: txMu serialises everything that touches the bbolt batch
// transaction (Apply, the committer, the compactor, Commit, Snapshot,
// Restore, Defragment, Close).
// mu guards the in-memory state (index, leases, uncommitted buffer); Apply
// holds it for writing for the span of one request, readers hold it for
// reading only while they walk the index and pick their values, never
// while they read bbolt pages or decode; ReadTxn alone holds it for its
// whole evaluation, since its compares decide what it reads next. Lock
// order: txMu, then mu.
type Store struct {
	cfg    Config
	notify func(rev int64, evs []*mvccpb.Event)

	txMu     sync.Mutex
	tx       *bbolt.Tx // the batch; guarded by txMu
	keyB     *bbolt.Bucket
	metaB    *bbolt.Bucket
	leaseB   *bbolt.Bucket
	membersB *bbolt.Bucket
	alarmB   *bbolt.Bucket
	pending  int // writes in the batch
	// drops are the records compactions dropped from the index that
	// bbolt still holds, oldest first; compactIdle is closed and cleared
	// when the last is deleted (nil while none are queued).
	drops       []droppedRev
	compactIdle chan struct{}
	dirty       bool // batch holds anything not committed, the consistent index included
	arena       arena
	closed      bool

	// authB, authUsersB and authRolesB hold the auth store (auth.go);
	// guarded by txMu like the buckets above.
	authB      *bbolt.Bucket
	authUsersB *bbolt.Bucket
	authRolesB *bbolt.Bucket

	// failure is the first backend failure (wrapping ErrBackend), set
	// once and never cleared; failedc is closed when it is set. From then
	// on the store applies and serves nothing: its memory may hold writes
	// its file never got.
	failure atomic.Pointer[error]
	failedc chan struct{}

	mu           sync.RWMutex
	db           *bbolt.DB // replaced by Restore under txMu and mu
	index        *treeIndex
	leases       map[int64]*lease
	alarms       map[alarmKey]struct{}
	auth         authState
	buf          []bufEntry // writes in revision order above committedRev
	committedRev int64
	dataBytes    int64 // bytes of all records in the key and lease buckets

	rev        atomic.Int64
	compactRev atomic.Int64
	ci         atomic.Uint64
	size       atomic.Int64
	sizeInUse  atomic.Int64

	// commits times each bbolt commit (etcd's backend commit duration).
	commits latency.Histogram

	// compactc wakes the compactor when a compaction queues records.
	compactc chan struct{}

	stop        chan struct{}
	done        chan struct{} // closed once the committer and compactor stopped
	compactDone chan struct{}
}

// bufEntry is one write still in the uncommitted batch.
type bufEntry struct {
	rev  revision
	tomb bool
	val  []byte // encoded KeyValue, in the arena
}

// Open opens (creating if needed) the store in cfg.Path and rebuilds the
// key index and lease attachments from it. notify, if not nil, is called
// from Apply after each revision becomes visible, with its events.
func Open(cfg Config, notify func(rev int64, evs []*mvccpb.Event)) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{
		cfg: cfg, notify: notify, failedc: make(chan struct{}), compactc: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), compactDone: make(chan struct{}),
	}
	db, err := openDB(cfg.Path)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.loadLocked(db)
	s.mu.Unlock()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.runCompactor()
	go s.runCommitter()
	return s, nil
}

func openDB(path string) (*bbolt.DB, error) {
	// Like etcd: the freelist is rebuilt on open rather than written on
	// every commit, and the map freelist keeps allocation cheap.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        10 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("mvcc: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketKey, bucketMeta, bucketLease, bucketMembers, bucketAlarm, bucketAuth, bucketAuthUsers, bucketAuthRoles} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mvcc: create buckets in %s: %w", path, err)
	}
	return db, nil
}

// loadLocked installs db, rebuilds the in-memory state from it and begins
// the batch. Callers hold txMu (or own the Store exclusively) and mu.
func (s *Store) loadLocked(db *bbolt.DB) error {
	s.db = db
	s.index = newTreeIndex()
	s.leases = make(map[int64]*lease)
	s.buf = s.buf[:0]
	s.dataBytes = 0
	s.drops = nil
	if s.compactIdle != nil {
		// The records of the database being replaced are gone with it.
		close(s.compactIdle)
		s.compactIdle = nil
	}
	// An empty store is at revision 1, as etcd's is: the first write
	// gets revision 2, which clients and scripts written against etcd see.
	rev, compactRev := int64(1), int64(0)
	var ci uint64
	err := db.View(func(tx *bbolt.Tx) error {
		meta, kb, lb := tx.Bucket(bucketMeta), tx.Bucket(bucketKey), tx.Bucket(bucketLease)
		if meta == nil || kb == nil || lb == nil {
			return fmt.Errorf("%w: missing bucket", ErrCorrupt)
		}
		if v := meta.Get(metaConsistentIndex); v != nil {
			n, ok := bytesU64(v)
			if !ok {
				return fmt.Errorf("%w: consistent index %x", ErrCorrupt, v)
			}
			ci = n
		}
		for _, m := range []struct {
			k []byte
			p *int64
		}{{metaRev, &rev}, {metaCompactRev, &compactRev}} {
			if v := m.k; meta.Get(v) != nil {
				n, ok := bytesU64(meta.Get(v))
				if !ok {
					return fmt.Errorf("%w: meta %s", ErrCorrupt, v)
				}
				*m.p = int64(n)
			}
		}
		if err := s.loadAlarmsLocked(tx); err != nil {
			return err
		}
		if err := s.loadAuthLocked(tx); err != nil {
			return err
		}
		err := lb.ForEach(func(k, v []byte) error {
			l, err := decodeLease(k, v)
			if err != nil {
				return err
			}
			s.leases[l.id] = l
			s.dataBytes += int64(len(k) + len(v))
			return nil
		})
		if err != nil {
			return err
		}
		return kb.ForEach(func(k, v []byte) error {
			r, tomb, ok := parseRevKey(k)
			if !ok {
				return fmt.Errorf("%w: revision key %x", ErrCorrupt, k)
			}
			var kv mvccpb.KeyValue
			if err := proto.Unmarshal(v, &kv); err != nil {
				return fmt.Errorf("%w: record %d.%d: %v", ErrCorrupt, r.main, r.sub, err)
			}
			ki := s.index.get(kv.Key)
			if ki == nil {
				ki = s.index.create(kv.Key)
			}
			if tomb {
				// The life that starts here has no lease.
				ki.tombstone(r)
			} else {
				ki.put(r)
				ki.setLease(kv.Lease)
				// A compacted life starts later than its first put:
				// the record says when it began and how many
				// versions it has.
				g := ki.latest()
				g.created, g.ver = kv.CreateRevision, kv.Version
			}
			rev = max(rev, r.main)
			s.dataBytes += int64(len(k) + len(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("mvcc: load %s: %w", s.cfg.Path, err)
	}
	var orphan *keyIndex
	s.index.ascend(nil, nil, func(ki *keyIndex) bool {
		if ki.leaseID() == 0 {
			return true
		}
		l := s.leases[ki.leaseID()]
		if l == nil {
			orphan = ki
			return false
		}
		l.keys[ki.key] = struct{}{}
		return true
	})
	if orphan != nil {
		// A revoke deletes the keys in the same batch as the lease, so
		// this cannot happen in a file this package wrote.
		return fmt.Errorf("mvcc: load %s: %w: key %q attached to missing lease %d", s.cfg.Path, ErrCorrupt, orphan.key, orphan.leaseID())
	}
	s.rev.Store(rev)
	s.committedRev = rev
	s.compactRev.Store(compactRev)
	s.ci.Store(ci)
	if err := s.beginBatchLocked(); err != nil {
		return err
	}
	if compactRev > 0 {
		// A compaction the last run did not finish deleting: the index
		// was rebuilt from every record left, so compact it again and
		// queue the rest.
		s.compactIndexLocked(compactRev)
	}
	return nil
}

func (s *Store) beginBatchLocked() error {
	tx, err := s.db.Begin(true)
	if err != nil {
		s.tx = nil
		return s.fail(fmt.Errorf("%w: begin batch: %w", ErrBackend, err))
	}
	s.tx = tx
	s.keyB = tx.Bucket(bucketKey)
	// Revisions only grow, so pages split full like etcd's key bucket.
	s.keyB.FillPercent = 0.9
	s.metaB = tx.Bucket(bucketMeta)
	s.leaseB = tx.Bucket(bucketLease)
	s.membersB = tx.Bucket(bucketMembers)
	s.alarmB = tx.Bucket(bucketAlarm)
	s.authB = tx.Bucket(bucketAuth)
	s.authUsersB = tx.Bucket(bucketAuthUsers)
	s.authRolesB = tx.Bucket(bucketAuthRoles)
	s.pending = 0
	s.dirty = false
	s.size.Store(tx.Size())
	// Free and pending pages are in the file but hold nothing (etcd's
	// DbSizeInUse leaves them out the same way).
	st := s.db.Stats()
	s.sizeInUse.Store(tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(s.db.Info().PageSize))
	return nil
}

// commitLocked commits the batch with the consistent index and revision
// and begins the next one. Caller holds txMu, not mu.
func (s *Store) commitLocked() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.closed {
		return ErrClosed
	}
	if !s.dirty {
		return nil
	}
	rev := s.rev.Load()
	if err := s.metaB.Put(metaConsistentIndex, u64Bytes(s.ci.Load())); err != nil {
		return s.fail(fmt.Errorf("%w: write consistent index: %w", ErrBackend, err))
	}
	if err := s.metaB.Put(metaRev, u64Bytes(uint64(rev))); err != nil {
		return s.fail(fmt.Errorf("%w: write revision: %w", ErrBackend, err))
	}
	start := time.Now()
	err := s.cfg.BeforeCommit()
	if err == nil {
		err = s.tx.Commit()
	} else {
		_ = s.tx.Rollback()
	}
	if err != nil {
		// bbolt rolled the batch back: the file holds the last commit,
		// memory holds more.
		s.tx = nil
		return s.fail(fmt.Errorf("%w: commit batch: %w", ErrBackend, err))
	}
	s.commits.Record(time.Since(start))
	// Readers may drop the buffer only now that bbolt has the writes: one
	// that finds a revision missing from the buffer under mu reads it from
	// a bbolt transaction begun after this commit.
	s.mu.Lock()
	s.buf = s.buf[:0]
	s.committedRev = rev
	s.mu.Unlock()
	return s.beginBatchLocked()
}

func (s *Store) runCommitter() {
	defer func() {
		<-s.compactDone
		close(s.done)
	}()
	t := time.NewTicker(s.cfg.BatchInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.txMu.Lock()
			if !s.closed && s.Err() == nil && s.dirty {
				_ = s.commitLocked() // kept as the store's failure, which stops the member
			}
			s.txMu.Unlock()
		}
	}
}

// Commit commits the batch now. Used before a raft snapshot, so that the
// snapshot's index is durable in the state machine.
func (s *Store) Commit() error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return s.commitLocked()
}

// Close commits the batch and closes the database.
func (s *Store) Close() error {
	s.txMu.Lock()
	if s.closed {
		s.txMu.Unlock()
		return ErrClosed
	}
	err := s.commitLocked()
	if s.tx != nil {
		_ = s.tx.Rollback() // the empty batch begun by the commit
	}
	s.closed = true
	s.txMu.Unlock()
	close(s.stop)
	<-s.done
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	if cerr := db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("mvcc: close %s: %w", s.cfg.Path, cerr)
	}
	return err
}

// fail records err, which wraps ErrBackend, as the store's failure unless
// one is recorded already, and returns the recorded one.
func (s *Store) fail(err error) error {
	if s.failure.CompareAndSwap(nil, &err) {
		close(s.failedc)
	}
	return *s.failure.Load()
}

// Err returns the store's backend failure (wrapping ErrBackend), or nil.
// Once it is set the store refuses every Apply and every read: its
// memory holds writes its file may never get, and the member must stop
// and replay its log.
func (s *Store) Err() error {
	if p := s.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Failed is closed when the store fails (see Err).
func (s *Store) Failed() <-chan struct{} { return s.failedc }

// ConsistentIndex is the raft index of the last applied entry.
func (s *Store) ConsistentIndex() uint64 { return s.ci.Load() }

// Rev is the current revision.
func (s *Store) Rev() int64 { return s.rev.Load() }

// CompactRev is the revision of the last compaction (0 if none).
func (s *Store) CompactRev() int64 { return s.compactRev.Load() }

// Size is the size of the bbolt file as of the last commit.
func (s *Store) Size() int64 { return s.size.Load() }

// SizeInUse is Size less the pages bbolt holds free for reuse, as of the
// last commit. Defragment makes the two equal.
func (s *Store) SizeInUse() int64 { return s.sizeInUse.Load() }

// LogicalSize is the number of bytes in the stored records (revision keys,
// encoded values, leases). Unlike Size it depends only on the applied
// entries, never on commit timing or page reuse, so every member reaches
// the same quota decision for the same entry; that is why QuotaBytes is
// checked against it.
func (s *Store) LogicalSize() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dataBytes
}

// arena hands out byte slices for encoded values and revision keys. bbolt
// keeps references to what a write transaction puts until it commits, and
// the uncommitted buffer serves them to readers, so each write needs bytes
// of its own; carving them from large slabs costs one allocation per
// megabyte instead of one per write. Slices are never written twice, so
// readers may use them without the lock.
type arena struct{ slab []byte }

const slabSize = 1 << 20

func (a *arena) alloc(n int) []byte {
	if n > slabSize/8 {
		return make([]byte, n)
	}
	if cap(a.slab)-len(a.slab) < n {
		a.slab = make([]byte, 0, slabSize)
	}
	off := len(a.slab)
	a.slab = a.slab[:off+n]
	return a.slab[off : off+n : off+n]
}
