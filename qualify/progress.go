package qualify

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress keeps one line on a terminal saying what is being measured,
// for how long and how far it got, redrawn five times a second. Without a
// writer it does nothing.
type progress struct {
	w io.Writer

	mu     sync.Mutex
	label  string
	start  time.Time
	expect time.Duration
	note   string
	shown  bool
	stop   chan struct{}
	done   chan struct{}
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

// begin starts a step expected to take about expect (0: unknown).
func (p *progress) begin(label string, expect time.Duration) {
	if p.w == nil {
		return
	}
	p.end()
	p.mu.Lock()
	p.label, p.start, p.expect, p.note = label, time.Now(), expect, ""
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	stop, done := p.stop, p.done
	p.drawLocked()
	p.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.drawLocked()
				p.mu.Unlock()
			}
		}
	}()
}

// detail sets what the step reports about itself ("1200 syncs").
func (p *progress) detail(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	p.note = fmt.Sprintf(format, args...)
	p.mu.Unlock()
}

// end stops the step and clears its line.
func (p *progress) end() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop, p.done = nil, nil
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	p.clear()
}

// clear removes the line, so a table row can be printed in its place.
func (p *progress) clear() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) drawLocked() {
	el := time.Since(p.start).Truncate(100 * time.Millisecond)
	s := fmt.Sprintf("\r\033[K  %s: %v", p.label, el)
	if p.expect > 0 {
		unit := time.Second
		if p.expect < 10*time.Second {
			unit = 100 * time.Millisecond
		}
		s += fmt.Sprintf(" of ~%v", p.expect.Round(unit))
	}
	if p.note != "" {
		s += " (" + p.note + ")"
	}
	fmt.Fprint(p.w, s)
	p.shown = true
}
