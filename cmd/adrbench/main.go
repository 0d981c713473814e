// Command adrbench runs an etcd-compatible replicated key-value store whose
// raft log storage is pluggable (serve), benchmarks one configuration of it
// (bench), sweeps a matrix of configurations into one run directory (sweep)
// and draws a run's figures and report (plot).
//
// Commands are thin: each parses flags into a config struct, validates it,
// and calls a package. main is the only place that exits.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/logbackends/async"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/fsync"
	"github.com/adrbench/adrbench/logbackends/memory"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code. Every error ends
// as one line on stderr naming what is wrong.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(newBackendRegistry())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "adrbench: %s\n", oneLine(err))
		return exitCode(err)
	}
	return 0
}

// newBackendRegistry lists the log backends this binary can run.
func newBackendRegistry() *logbackends.Registry {
	r := logbackends.NewRegistry()
	r.Register(adrlog.Name, adrlog.Open)
	r.Register(batched.Name, batched.Open)
	r.Register(fsync.Name, fsync.Open)
	r.Register(async.Name, async.Open)
	r.Register(memory.Name, memory.Open)
	return r
}

func newRootCmd(backends *logbackends.Registry) *cobra.Command {
	root := &cobra.Command{
		Use:   "adrbench",
		Short: "An etcd-compatible replicated KV store for measuring raft log durability",
		Long: "adrbench measures how the way a raft log is made durable decides the write\n" +
			"throughput and latency of an etcd-style replicated key-value store.",
		SilenceUsage:  true,
		SilenceErrors: true, // run prints the error as one line
	}
	root.AddCommand(newServeCmd(backends))
	root.AddCommand(newBenchCmd(backends))
	root.AddCommand(newSweepCmd(backends))
	root.AddCommand(newPlotCmd())
	root.AddCommand(newQualifyCmd(backends))
	return root
}

// oneLine keeps an error to a single line however it was built.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
