package plan

import (
	"github.com/adrbench/adrbench/logbackends/diskprofile"
	"github.com/adrbench/adrbench/plan/model"
)

// testCalibration is a calibration with plausible costs, made up for the
// tests: they check what the package does with a calibration, not this
// machine.
func testCalibration() *Calibration {
	exp := func(mean float64) []float64 { return model.Exponential(mean, saveQuantiles-1).Quantiles }
	shift := func(q []float64, d float64) []float64 {
		out := make([]float64, len(q))
		for i, v := range q {
			out[i] = v + d
		}
		return out
	}
	c := &Calibration{
		Schema: CalibrationSchema,
		Cores:  2,
		CPU: CPUCosts{Gen: 40e-6, Write: 70e-6, WritePerConn: 20e-6, Ready: 15e-6, Entry: 3e-6, Apply: 8e-6,
			MsgInproc: 3e-6, ByteInproc: 1e-9, MsgTCP: 6e-6, ByteTCP: 2e-9},
		Contention: []ContentionPoint{{1, 1}, {3, 1.2}, {5, 1.3}},
		Envelope: Envelope{MaxNodes: 5, MaxDelayMs: 5, MinValSize: 64, MaxValSize: 1024,
			Profiles: diskprofile.Names(), Backends: []string{"adr", "batched", "fsync", "memory"}, MaxClients: 1000, SharedCores: true},
	}
	add := func(backend, profile string, q []float64, perEntry, cpuCall, cpuEntry float64) {
		sc := SaveCal{Backend: backend, Profile: profile, Quantiles: q, PerEntry: perEntry, CPUCall: cpuCall, CPUEntry: cpuEntry, Samples: 1000}
		sc.Mean = (model.Disk{Quantiles: q}).Mean()
		c.Saves = append(c.Saves, sc)
	}
	add("memory", "native", exp(1e-6), 0, 1e-6, 0.2e-6)
	add("adr", "native", exp(3e-6), 0, 4e-6, 2e-6)
	add("batched", "native", shift(exp(0.3e-3), 0.1e-3), 1e-6, 80e-6, 1e-6)
	add("batched", "ssd-2015", shift(exp(0.5e-3), 1.4e-3), 1e-6, 80e-6, 1e-6)
	add("fsync", "native", shift(exp(0.3e-3), 0.1e-3), 0.4e-3, 1e-6, 80e-6)
	add("fsync", "ssd-2015", shift(exp(0.5e-3), 1.4e-3), 1.9e-3, 1e-6, 80e-6)
	return c
}
