// Package logbackends imports the store above it.
package logbackends

import "example.com/broken/store"

// Save calls up.
func Save() { store.Get() }
