package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/adrbench/adrbench/plan/search"
)

// PredictedPlan turns predictions into plan.json: points in the order
// predicted, with the band widened by the calibration's measured error
// when it has been validated, the points that meet needWrites (0: no
// need) smallest and cheapest first, or the nearest when none does, and
// etcd's timing advice for each round trip.
func PredictedPlan(preds []Prediction, obj search.Objective, calDir string, v *Validation, needWrites float64) *PlanFile {
	pf := &PlanFile{Schema: PlanSchema, Kind: KindPredicted, SLO: SLO{P99Ms: obj.P99, P50Ms: obj.P50, P999Ms: obj.P999},
		Calibration: calDir, NeedWrites: needWrites}
	var errBand float64
	if v != nil && v.AtCapacity.N > 0 {
		s := v.AtCapacity
		pf.Validation = &s
		errBand = s.Median
		pf.Notes = append(pf.Notes, fmt.Sprintf("low and high widen the simulations' band by the model's median error at capacity (%.0f%%, %d points) in its validation on this machine", 100*s.Median, s.N))
	} else {
		pf.Notes = append(pf.Notes, "the calibration has not been validated: low and high are the simulations' own spread only")
	}
	var rtts []float64
	for _, p := range preds {
		pp := pointOf(p.Setup)
		pp.MaxWritesS, pp.P99MsAtMax = math.Round(p.Max), round2(p.P99AtMax)
		pp.Low, pp.High = math.Round(p.Low*(1-errBand)), math.Round(p.High*(1+errBand))
		pp.Bottleneck = p.Bottleneck
		pp.Extrapolated, pp.Why = len(p.Extrapolated) > 0, p.Extrapolated
		pp.Saturation = math.Round(p.Saturation)
		pp.Note = backendNote(p.Setup.Backend)
		if p.Max == 0 {
			pp.Note = strings.TrimPrefix(pp.Note+"; fails the objective at any rate", "; ")
		}
		pf.Points = append(pf.Points, pp)
		if r := 2 * ms(p.Setup.NetDelay); !slices.Contains(rtts, r) {
			rtts = append(rtts, r)
		}
	}
	slices.Sort(rtts)
	for _, r := range rtts {
		pf.Timeouts = append(pf.Timeouts, AdviseTimeouts(r))
	}
	if needWrites > 0 {
		pf.Meets, pf.Nearest = rankNeed(pf.Points, needWrites)
	}
	return pf
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// backendNote says what a reader must know of a backend's durability.
func backendNote(backend string) string {
	switch backend {
	case "async":
		return "UNSAFE: async acknowledges entries before they are durable"
	case "memory":
		return "not durable: memory keeps nothing across a restart"
	case "adr":
		return "needs persistent memory (ADR or eADR) on every member"
	}
	return ""
}

// costRank orders what a configuration costs beyond its member count:
// slower disks are cheaper, persistent memory dearer, and backends that do
// not keep raft's stable-storage rule come last whatever they cost.
func costRank(p PlanPoint) (int, int) {
	disk := map[string]int{"hdd": 0, "ssd-2015": 1, "sata-ssd": 2, "native": 3, "nvme": 4}[p.DiskProfile]
	backend := map[string]int{"batched": 0, "fsync": 0, "adr": 1, "async": 5, "memory": 6}[p.Backend]
	return backend, disk
}

// rankNeed returns the points meeting need, fewest members first, then
// the cheapest, then the most headroom; when none does, the three with the
// most capacity.
func rankNeed(points []PlanPoint, need float64) (meets, nearest []int) {
	for i, p := range points {
		if p.MaxWritesS >= need {
			meets = append(meets, i)
		}
	}
	slices.SortStableFunc(meets, func(a, b int) int {
		pa, pb := points[a], points[b]
		ba, da := costRank(pa)
		bb, db := costRank(pb)
		switch {
		case pa.Nodes != pb.Nodes:
			return pa.Nodes - pb.Nodes
		case ba != bb:
			return ba - bb
		case da != db:
			return da - db
		case pa.CoresPerMember != pb.CoresPerMember:
			return pa.CoresPerMember - pb.CoresPerMember
		}
		return cmp.Compare(pb.MaxWritesS, pa.MaxWritesS)
	})
	if len(meets) > 0 {
		return meets, nil
	}
	idx := make([]int, len(points))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(points[b].MaxWritesS, points[a].MaxWritesS) })
	return nil, idx[:min(3, len(idx))]
}

// Answer is the plan's headline in one sentence.
func (pf *PlanFile) Answer() string {
	obj := fmt.Sprintf("p99 <= %g ms", pf.SLO.P99Ms)
	if pf.SLO.P50Ms > 0 {
		obj += fmt.Sprintf(", p50 <= %g ms", pf.SLO.P50Ms)
	}
	if pf.SLO.P999Ms > 0 {
		obj += fmt.Sprintf(", p99.9 <= %g ms", pf.SLO.P999Ms)
	}
	what := "predicted"
	if pf.Kind == KindMeasured {
		what = "measured"
	}
	if len(pf.Points) == 0 {
		return "No configuration was " + what + "."
	}
	if pf.NeedWrites > 0 {
		if len(pf.Meets) > 0 {
			p := pf.Points[pf.Meets[0]]
			return fmt.Sprintf("%d of %d configurations take %.0f writes/s at %s (%s). The smallest and cheapest: %s, %.0f writes/s (%.0f-%.0f), p99 %.1f ms there, limited by %s%s.",
				len(pf.Meets), len(pf.Points), pf.NeedWrites, obj, what, describe(p), p.MaxWritesS, p.Low, p.High, p.P99MsAtMax, p.Bottleneck, extrapolatedTag(p))
		}
		p := pf.Points[pf.Nearest[0]]
		return fmt.Sprintf("No configuration takes %.0f writes/s at %s (%s). The nearest: %s, %.0f writes/s (%.0f-%.0f), limited by %s%s.",
			pf.NeedWrites, obj, what, describe(p), p.MaxWritesS, p.Low, p.High, p.Bottleneck, extrapolatedTag(p))
	}
	best := 0
	for i, p := range pf.Points {
		if p.MaxWritesS > pf.Points[best].MaxWritesS {
			best = i
		}
	}
	p := pf.Points[best]
	return fmt.Sprintf("Highest capacity at %s (%s): %s, %.0f writes/s (%.0f-%.0f), p99 %.1f ms there, limited by %s%s.",
		obj, what, describe(p), p.MaxWritesS, p.Low, p.High, p.P99MsAtMax, p.Bottleneck, extrapolatedTag(p))
}

func describe(p PlanPoint) string {
	s := fmt.Sprintf("%d members on %s, %s disk, %g ms RTT", p.Nodes, p.Backend, p.DiskProfile, 2*p.NetDelayMs)
	if p.CoresPerMember > 0 {
		s += fmt.Sprintf(", %d cores each", p.CoresPerMember)
	} else {
		s += ", sharing one machine's cores"
	}
	return s
}

func extrapolatedTag(p PlanPoint) string {
	if p.Extrapolated {
		return " (extrapolated)"
	}
	return ""
}
