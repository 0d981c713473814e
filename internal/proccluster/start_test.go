package proccluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartMemberExits(t *testing.T) {
	cfg := Config{Command: shell(t, `echo "bad flag: boom" >&2; exit 3`), Size: 2, Dir: t.TempDir()}
	removed := countRemovals(&cfg)
	_, err := Start(t.Context(), cfg)
	if !errors.Is(err, ErrMemberExited) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Start: %v, want ErrMemberExited with the member's log", err)
	}
	if errors.Is(err, ErrPortsLost) {
		t.Errorf("Start: %v: retried a start that did not lose a port", err)
	}
	if n := removed.Load(); n != 2 {
		t.Errorf("RemoveMember called %d times after one failed attempt of 2 members, want 2", n)
	}

	cfg.KeepData = true
	removed = countRemovals(&cfg)
	if _, err := Start(t.Context(), cfg); !errors.Is(err, ErrMemberExited) {
		t.Fatalf("Start: %v", err)
	}
	if n := removed.Load(); n != 0 {
		t.Errorf("RemoveMember called %d times with KeepData", n)
	}
}

func TestStartLostPortsEveryAttempt(t *testing.T) {
	cfg := Config{Command: shell(t, `echo "listen tcp: bind: address already in use" >&2; exit 1`), Size: 1, Dir: t.TempDir()}
	cfg.KeepData = true // what is removed then is only the retries' doing
	removed := countRemovals(&cfg)
	_, err := Start(t.Context(), cfg)
	if !errors.Is(err, ErrPortsLost) || !errors.Is(err, ErrMemberExited) {
		t.Fatalf("Start: %v, want ErrPortsLost wrapping the last exit", err)
	}
	if n := removed.Load(); n != startAttempts-1 {
		t.Errorf("RemoveMember called %d times, want once before each of %d retries", n, startAttempts-1)
	}
}

// TestStartRetriesLostPort loses a port on the first attempt only: Start
// must remove that attempt's data, pick new ports and come up.
func TestStartRetriesLostPort(t *testing.T) {
	cfg := flavors()[0].config(t)
	marker := filepath.Join(t.TempDir(), "lost")
	// The first member of the first attempt says it lost its port; every
	// other start runs the server.
	script := fmt.Sprintf(`if mkdir %q 2>/dev/null; then echo "bind: address already in use" >&2; exit 1; fi; exec "$@"`, marker)
	cfg.Command = append(shell(t, script), cfg.Command...)
	cfg.Size, cfg.Dir = 1, t.TempDir()
	removed := countRemovals(&cfg)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Once when the first attempt is abandoned, once before the retry.
	if n := removed.Load(); n != 2 {
		t.Errorf("RemoveMember called %d times for one lost attempt of one member, want 2", n)
	}
	put(ctx, t, c, "k", "v")
}
