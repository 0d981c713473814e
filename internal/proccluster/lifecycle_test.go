package proccluster

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLifecycle drives a 3-member cluster of each flavor through every
// fault: kill and restart of the leader, pause and resume, a clean stop,
// and checks that CPU counts every incarnation.
func TestLifecycle(t *testing.T) {
	for _, f := range flavors() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel() // mostly waiting on elections
			cfg := f.config(t)
			cfg.Size, cfg.Dir = 3, t.TempDir()
			var fr fronts
			cfg.PeerFront = fr.front
			removed := countRemovals(&cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			c, err := Start(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					for _, m := range c.Members() {
						t.Logf("--- %s log (last 30 lines):\n%s", m.Name(), m.LogTail(30))
					}
				}
				c.Close()
			})
			if n := fr.made.Load(); n != 3 {
				t.Errorf("PeerFront called %d times for 3 members", n)
			}
			put(ctx, t, c, "before", "1")

			lead, err := c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cpuBefore, err := c.Member(lead).CPU()
			if err != nil || cpuBefore <= 0 {
				t.Fatalf("leader's CPU %v, %v", cpuBefore, err)
			}
			if err := c.Kill(ctx, lead); err != nil {
				t.Fatal(err)
			}
			if c.Member(lead).Running() || c.Member(lead).Pid() != 0 {
				t.Fatalf("killed member %d still running", lead)
			}
			if next, err := c.Leader(ctx); err != nil || next == lead {
				t.Fatalf("leader after killing %d: %d, %v", lead, next, err)
			}
			if cpu, err := c.Member(lead).CPU(); err != nil || cpu < cpuBefore {
				t.Errorf("CPU of killed member %v, %v; it had %v before the kill", cpu, err, cpuBefore)
			}
			if err := c.Restart(lead); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(lead); !errors.Is(err, ErrRunning) {
				t.Errorf("Restart of a running member: %v, want ErrRunning", err)
			}
			if err := c.WaitServing(ctx, lead); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			get(ctx, t, c.Member(lead), "before", "1")

			// A paused leader answers nothing, so the others elect
			// another; resumed, it rejoins as a follower.
			lead, err = c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Pause(lead); err != nil {
				t.Fatal(err)
			}
			if !c.Member(lead).Paused() || !processStopped(t, c.Member(lead).Pid()) {
				t.Fatalf("member %d is not stopped after Pause", lead)
			}
			if next, err := c.Leader(ctx); err != nil || next == lead {
				t.Fatalf("leader while %d is paused: %d, %v", lead, next, err)
			}
			put(ctx, t, c, "while-paused", "2")
			if err := c.Resume(lead); err != nil {
				t.Fatal(err)
			}
			if c.Member(lead).Paused() || processStopped(t, c.Member(lead).Pid()) {
				t.Fatalf("member %d still stopped after Resume", lead)
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			get(ctx, t, c.Member(lead), "while-paused", "2")

			// A paused member still stops cleanly on SIGTERM.
			if err := c.Pause(lead); err != nil {
				t.Fatal(err)
			}
			if err := c.StopAll(ctx); err != nil {
				t.Fatalf("StopAll: %v", err)
			}
			for _, m := range c.Members() {
				if m.Running() {
					t.Errorf("%s running after StopAll", m.Name())
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if n := fr.closed.Load(); n != 3 {
				t.Errorf("%d of 3 peer fronts closed", n)
			}
			if n := removed.Load(); n != 3 {
				t.Errorf("RemoveMember called %d times on Close of 3 members", n)
			}
			if _, err := os.Stat(c.Member(0).DataDir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data dir after Close: %v", err)
			}
			if !strings.Contains(c.Member(0).Log(), "=== ") {
				t.Errorf("log of m0 lacks the command lines:\n%s", c.Member(0).Log())
			}
		})
	}
}
