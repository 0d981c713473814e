// Package adr is the persistent-memory layer: it maps a region (device
// DAX, a file on a DAX file system with MAP_SYNC, or an emulated region on
// tmpfs), flushes cache lines and fences them into the region's
// persistence domain, and keeps a crash-consistent ring of records in it.
// Sim is a power-loss simulator: a region that tracks which cache lines were
// flushed and fenced, for crash tests.
//
// Hardware assumption: on an ADR platform the memory controller's
// write-pending queues are drained to the media on power loss but the CPU
// caches are not, so a store is durable only after the cache line holding
// it was flushed (CLWB, CLFLUSHOPT or CLFLUSH) and a fence (SFENCE) has
// ordered that flush. On eADR the caches are in the persistence domain too
// and only the fence is needed. Aligned 8-byte stores are the unit of
// failure atomicity.
package adr
