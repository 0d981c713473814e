// Package harness imports the command.
package harness

import "example.com/broken/cmd/tool"

// Go calls the command.
func Go() { tool.Run() }
