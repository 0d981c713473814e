// Package plots reads the store instead of saved results.
package plots

import "example.com/broken/store"

// Draw reads the store.
func Draw() { store.Get() }
