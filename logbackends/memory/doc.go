// Package memory is the log backend that keeps the raft log in memory only.
//
// Promise: nothing survives a restart. Save returns as soon as the entries
// are in a raft.MemoryStorage; it never syncs. It is the ceiling every other
// backend is measured against: what the store does when persisting the log
// costs nothing. It has no settings; its registry entry is not Durable, so
// results on it are labelled unsafe.
package memory
