package sweep

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws one line per point on a terminal: rewritten every second
// while the point runs, then replaced by the point's outcome. A nil writer
// makes every method a no-op, which is how pipes stay quiet.
type progress struct {
	w     io.Writer
	total int
	// every is how often the line is redrawn.
	every time.Duration
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, every: time.Second}
}

func (p *progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, format, args...)
	}
}

// start shows point num (1-based, of the whole plan) and returns the
// function that ends its line with result. The ETA counts the points after
// this one (left) at the mean time of the ones this invocation has run so
// far (done since began), or at est before there are any.
func (p *progress) start(num int, pt PlannedPoint, est time.Duration, left int, began time.Time, done int) (stop func(result string)) {
	if p.w == nil {
		return func(string) {}
	}
	per := est
	if done > 0 {
		per = time.Since(began) / time.Duration(done)
	}
	t0 := time.Now()
	line := func() string {
		el := time.Since(t0)
		eta := "?"
		if per > 0 {
			eta = (max(per-el, 0) + time.Duration(left)*per).Round(time.Second).String()
		}
		return fmt.Sprintf("\r\x1b[K[%d/%d] %s … %s ETA %s", num, p.total, pt.Label, el.Round(time.Second), eta)
	}
	fmt.Fprint(p.w, line())
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprint(p.w, line())
			}
		}
	}()
	return func(result string) {
		close(quit)
		wg.Wait()
		fmt.Fprintf(p.w, "\r\x1b[K[%d/%d] %s: %s (%s)\n", num, p.total, pt.Label, result, time.Since(t0).Round(100*time.Millisecond))
	}
}
