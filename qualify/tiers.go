package qualify

import "fmt"

// Tier is one load of etcdctl check perf: a target rate of puts spread
// over a number of clients, each with its own connection.
type Tier struct {
	Name    string  `json:"name"`
	Rate    float64 `json:"rate_ops_s"`
	Clients int     `json:"clients"`
}

// CheckPerfTiers are etcdctl check perf's four loads, smallest first.
func CheckPerfTiers() []Tier {
	return []Tier{
		{Name: "s", Rate: 150, Clients: 50},
		{Name: "m", Rate: 1000, Clients: 200},
		{Name: "l", Rate: 8000, Clients: 500},
		{Name: "xl", Rate: 15000, Clients: 1000},
	}
}

func tierNames() []string {
	var names []string
	for _, t := range CheckPerfTiers() {
		names = append(names, t.Name)
	}
	return names
}

// tierIndex is a tier's rank: 1 for s up to 4 for xl, 0 for none or an
// unknown name.
func tierIndex(name string) int {
	for i, n := range tierNames() {
		if n == name {
			return i + 1
		}
	}
	return 0
}

// tierName is the name of rank i, "none" for 0.
func tierName(i int) string {
	names := tierNames()
	if i < 1 || i > len(names) {
		return "none"
	}
	return names[i-1]
}

// TierResult is what one tier of the end-to-end check measured and
// whether it met the profile's criteria.
type TierResult struct {
	Tier
	DurationS  float64 `json:"duration_s"`
	WarmupS    float64 `json:"warmup_s"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput_ops_s"`
	// RatePct is the throughput as a share of the tier's rate.
	RatePct   float64 `json:"rate_pct"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	StdDevMs  float64 `json:"stddev_ms"`
	SlowestMs float64 `json:"slowest_ms"`
	// FellBehind says the tier was stopped a grace period after its end
	// with puts still due: those are not in the figures, and each was
	// later than the slowest bound allows.
	FellBehind bool `json:"fell_behind,omitempty"`
	Passed     bool `json:"passed"`
	// Missed lists the criteria the tier did not meet.
	Missed []string `json:"missed,omitempty"`
	// Error says why the tier could not be measured at all.
	Error string `json:"error,omitempty"`
}

// evaluate fills r.Passed and r.Missed from the criteria.
func (c E2ECriteria) evaluate(r *TierResult) {
	r.Missed = nil
	if r.Error != "" {
		r.Missed, r.Passed = []string{"not measured: " + r.Error}, false
		return
	}
	if r.Rate > 0 {
		r.RatePct = 100 * r.Throughput / r.Rate
	}
	if r.Errors > 0 {
		r.Missed = append(r.Missed, fmt.Sprintf("%d errors (want none)", r.Errors))
	}
	if r.RatePct < c.MinRatePct {
		r.Missed = append(r.Missed, fmt.Sprintf("throughput %.0f/s is %.1f%% of %.0f/s (want >= %g%%)", r.Throughput, r.RatePct, r.Rate, c.MinRatePct))
	}
	if r.SlowestMs > c.MaxSlowestMs {
		r.Missed = append(r.Missed, fmt.Sprintf("slowest %s ms (want <= %g ms)", formatNumber(r.SlowestMs), c.MaxSlowestMs))
	}
	if r.StdDevMs > c.MaxStdDevMs {
		r.Missed = append(r.Missed, fmt.Sprintf("stddev %s ms (want <= %g ms)", formatNumber(r.StdDevMs), c.MaxStdDevMs))
	}
	if r.FellBehind {
		r.Missed = append(r.Missed, "stopped with puts still due after the grace period: the server fell behind")
	}
	if r.P99Ms > c.MaxP99Ms {
		r.Missed = append(r.Missed, fmt.Sprintf("p99 %s ms (want <= %g ms)", formatNumber(r.P99Ms), c.MaxP99Ms))
	}
	r.Passed = len(r.Missed) == 0
}

// highestPassed is the rank of the highest tier that passed, 0 if none.
// Tiers are independent, as in check perf: a server may pass xl and not l
// (l's rate met but its latency not), and then xl is reported.
func highestPassed(rs []TierResult) int {
	best := 0
	for _, r := range rs {
		if i := tierIndex(r.Name); r.Passed && i > best {
			best = i
		}
	}
	return best
}
