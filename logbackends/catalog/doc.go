// Package catalog lists the log backends this module builds, each with its
// configuration, so that a program can offer all of them without knowing
// any one: Configs holds every backend's Config, binds their flags
// (AddFlags), validates them, and builds the Registry that opens each
// backend with its own. cmd/adrbench builds its registry here, after its
// flags are parsed; tests and tools that start `adrbench serve` processes
// build one with DefaultConfigs to destroy what those members leave behind.
//
// It is the one place that imports every backend package; the backends
// themselves import only logbackends, and nothing in this package is
// package-level state: a Configs is a value, and so is every Registry built
// from it.
package catalog
