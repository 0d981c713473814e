// Package raft stands in for go.etcd.io/raft/v3 so the broken module
// builds without the network.
package raft

// Term is anything to import.
type Term uint64
