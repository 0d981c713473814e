// Package tool stands for a command.
package tool

// Run is anything to import.
func Run() {}
