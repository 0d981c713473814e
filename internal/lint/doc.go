// Package lint holds checks of the source tree that the compiler does not
// make: the layering of packages, references to files that do not exist,
// and package-level state. Its test runs them over the module, so a
// violation fails the build like a failing test.
//
// The layering is a table of ranks (Layers): a package may import packages
// of a lower rank, and packages of its own tree (store may import
// store/mvcc). A package missing from the table is itself a violation, so
// a new package is placed in the architecture on purpose. On top of the
// ranks, a few rules name single edges: only the log backends touch
// persistent memory directly, the
// state machine never imports raft, the figures read only saved results,
// and nothing imports the binary.
//
// References: Markdown links to relative paths, and paths under one of the
// repository's top-level folders mentioned in Go files or Markdown (with a
// file extension, or a trailing slash for a folder, which tells them from
// labels such as "adr/native"), must name a file or folder that exists,
// and a document named without its folder (a word ending in .md) must be
// one the repository has.
//
// Package state: outside package main there is no init function and no
// package-level variable that is written after its declaration (assigned,
// incremented, indexed into, its address taken, or a pointer method called
// on it). Sentinel errors, lookup tables and compile-time interface checks
// remain as they are never written.
package lint
