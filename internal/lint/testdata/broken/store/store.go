// Package store breaks the layering: it imports adr. It also cites
// DESIGN.md and store/nothere.go, which do not exist.
package store

import "example.com/broken/adr"

// Put calls into adr.
func Put() { adr.Flush() }
