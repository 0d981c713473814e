// Package mvcc is a state machine that imports raft.
package mvcc

import raft "go.etcd.io/raft/v3"

// T uses raft.
var T raft.Term
