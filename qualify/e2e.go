package qualify

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/adrbench/adrbench/results"
)

// e2eGroup runs every tier against a fresh one-member adrbench on the
// directory, with the chosen log backend, and reports the highest tier
// that met the profile's criteria. Tiers are independent, as in check
// perf: each gets a new member, so one tier's backlog never spills into
// the next.
func (r *runner) e2eGroup(ctx context.Context) error {
	tiers := r.cfg.Tiers
	if tiers == nil {
		tiers = CheckPerfTiers()
	}
	crit := r.prof.E2E
	var tiersDone []TierResult
	for i, t := range tiers {
		r.prog.begin(fmt.Sprintf("e2e: tier %s (%g puts/s, %d clients) on the %s backend, %d/%d", t.Name, t.Rate, t.Clients, r.cfg.LogBackend, i+1, len(tiers)),
			r.dur.E2ETier+r.dur.E2EWarmup+3*time.Second)
		run, err := r.runTier(ctx, t, filepath.Join(r.work, "e2e-"+t.Name))
		r.prog.end()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tr := TierResult{Tier: t, WarmupS: r.dur.E2EWarmup.Seconds()}
		if err != nil {
			tr.Error = err.Error()
		} else {
			res := run.res
			tr.DurationS, tr.Ops, tr.Errors, tr.Throughput = res.Elapsed.Seconds(), res.Ops, res.Errors, res.Throughput()
			l := results.LatencyFromHistogram(res.Histogram)
			tr.P50Ms, tr.P99Ms, tr.StdDevMs, tr.SlowestMs = l.P50, l.P99, l.StdDev, l.Max
			tr.FellBehind = run.cut
			if res.Histogram != nil && res.Histogram.TotalCount() > 0 {
				r.addHist("e2e.highest_tier", "e2e-"+t.Name, fmt.Sprintf("put latency at tier %s, from the intended send time", t.Name), res.Histogram)
			}
		}
		crit.evaluate(&tr)
		tiersDone = append(tiersDone, tr)
	}
	r.e2e = tiersDone
	r.add(e2eCheck(r.prof, tiersDone, r.cfg.LogBackend))
	return nil
}

// e2eCheck judges the highest tier passed against the profile's required
// tier (the threshold of e2e.highest_tier).
func e2eCheck(p Profile, rs []TierResult, backend string) Check {
	best := highestPassed(rs)
	c := judge(p, "e2e.highest_tier", float64(best))
	c.Source += "; a tier passes with " + p.E2E.Source
	var parts []string
	c.Details = map[string]float64{}
	for _, r := range rs {
		s := r.Name + " pass"
		if !r.Passed {
			s = r.Name + " fail (" + strings.Join(r.Missed, "; ") + ")"
		}
		parts = append(parts, s)
		c.Details["rate_pct_"+r.Name] = r.RatePct
		c.Details["p99_ms_"+r.Name] = r.P99Ms
	}
	c.Text = fmt.Sprintf("backend %s: %s", backend, strings.Join(parts, ", "))
	if c.Verdict != Pass {
		c.Reason = fmt.Sprintf("highest tier passed is %s; profile %s requires %s", tierName(best), p.Name, tierName(int(c.Threshold)))
	}
	for i, r := range rs {
		if i > 0 && r.Passed && !rs[i-1].Passed {
			c.Reason = strings.TrimPrefix(c.Reason+fmt.Sprintf("; tier %s passed although %s did not: each tier is judged against its own rate", r.Name, rs[i-1].Name), "; ")
		}
	}
	return c
}
