// Package results keeps state in package variables.
package results

import (
	"errors"
	"sync"
)

// ErrX is a sentinel error: never written, so allowed.
var ErrX = errors.New("x")

var (
	counter  int
	mu       sync.Mutex
	registry = map[string]int{}
	table    = []string{"x"}
)

func init() { counter = 1 }

// Bump writes the counter.
func Bump() {
	counter = 5
	counter++
}

// Locked uses a package mutex.
func Locked() {
	mu.Lock()
	defer mu.Unlock()
}

// Register writes into a package map.
func Register(k string) { registry[k] = 1 }

// First reads a table: allowed.
func First() (string, bool) { return table[0], errors.Is(ErrX, ErrX) }
