package results

import (
	"fmt"
	"math"
)

// Validate checks r against the schema and names the first bad field.
func (r *Run) Validate() error {
	if r.Schema != SchemaV1 {
		return fmt.Errorf("%w: %q (want %q)", ErrSchema, r.Schema, SchemaV1)
	}
	if r.Name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalid)
	}
	if r.Started.IsZero() {
		return fmt.Errorf("%w: started is missing", ErrInvalid)
	}
	if r.Host.Cores < 0 {
		return fmt.Errorf("%w: host.cores is %d", ErrInvalid, r.Host.Cores)
	}
	if len(r.Points) == 0 {
		return fmt.Errorf("%w: no points", ErrInvalid)
	}
	for i := range r.Points {
		if err := r.Points[i].Validate(); err != nil {
			return fmt.Errorf("points[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate checks one point.
func (p *Point) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case p.Target == "":
		return bad("target is empty")
	case p.Workload == "":
		return bad("workload is empty")
	case p.Mode != ModeClosed && p.Mode != ModeOpen:
		return bad("mode is %q (want %q or %q)", p.Mode, ModeClosed, ModeOpen)
	case p.Nodes < 0:
		return bad("nodes is %d", p.Nodes)
	case p.Clients < 0 || p.Conns < 0:
		return bad("clients %d, conns %d", p.Clients, p.Conns)
	case p.Ops < 0 || p.Errors < 0:
		return bad("ops %d, errors %d", p.Ops, p.Errors)
	}
	nums := []struct {
		name string
		v    float64
	}{
		{"net_delay_ms", p.NetDelayMs}, {"duration_s", p.DurationS},
		{"throughput_ops_s", p.Throughput}, {"syncs_per_op", p.SyncsPerOp},
		{"latency_ms.mean", p.LatencyMs.Mean}, {"latency_ms.p50", p.LatencyMs.P50},
		{"latency_ms.p90", p.LatencyMs.P90}, {"latency_ms.p99", p.LatencyMs.P99},
		{"latency_ms.p999", p.LatencyMs.P999}, {"latency_ms.max", p.LatencyMs.Max},
	}
	for _, n := range nums {
		if math.IsNaN(n.v) || math.IsInf(n.v, 0) || n.v < 0 {
			return bad("%s is %v", n.name, n.v)
		}
	}
	l := p.LatencyMs
	if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		return bad("latency_ms percentiles not increasing: p50 %v p90 %v p99 %v p999 %v max %v",
			l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	if p.Histogram != nil && p.Histogram.TotalCount() != p.Ops {
		return bad("histogram holds %d samples, ops is %d", p.Histogram.TotalCount(), p.Ops)
	}
	var byCode int64
	for _, n := range p.ErrorsByCode {
		byCode += n
	}
	if len(p.ErrorsByCode) > 0 && byCode != p.Errors {
		return bad("errors_by_code sums to %d, errors is %d", byCode, p.Errors)
	}
	return nil
}
