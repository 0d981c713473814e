// Command adrbench runs an etcd-compatible replicated key-value store whose
// raft log storage is pluggable (serve), benchmarks one configuration of it
// (bench), sweeps a matrix of configurations into one run directory (sweep),
// draws a run's figures and report (plot), and checks a cluster's
// linearizability under faults (check).
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

	"github.com/adrbench/adrbench/logbackends/catalog"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code. Every error ends
// as one line on stderr naming what is wrong.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(catalog.DefaultConfigs())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "adrbench: %s\n", oneLine(err))
		return exitCode(err)
	}
	return 0
}

// newRootCmd builds the commands over backends, the settings of every log
// backend this binary can run. serve binds them to its flags; bench and
// sweep run the backends with these settings as given (their results do
// not record backend settings, so they offer no flags to change them).
func newRootCmd(backends catalog.Configs) *cobra.Command {
	root := &cobra.Command{
		Use:   "adrbench",
		Short: "An etcd-compatible replicated KV store for measuring raft log durability",
		Long: "adrbench measures how the way a raft log is made durable decides the write\n" +
			"throughput and latency of an etcd-style replicated key-value store.",
		SilenceUsage:  true,
		SilenceErrors: true, // run prints the error as one line
	}
	root.AddCommand(newServeCmd(backends))
	root.AddCommand(newBenchCmd(backends.Registry()))
	root.AddCommand(newSweepCmd(backends.Registry()))
	root.AddCommand(newPlotCmd())
	root.AddCommand(newPlanCmd(backends.Registry()))
	root.AddCommand(newCheckCmd(backends.Registry()))
	root.AddCommand(newQualifyCmd(backends.Registry()))
	return root
}

// oneLine keeps an error to a single line however it was built.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
