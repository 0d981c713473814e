package plan

import "errors"

var (
	// ErrConfig reports a bad flag, config file or configuration; the
	// wrapping error names what is wrong.
	ErrConfig = errors.New("plan: invalid config")
	// ErrCalibration reports a calibration directory that cannot be used:
	// missing, of another schema, or lacking what a prediction needs.
	ErrCalibration = errors.New("plan: calibration")
	// ErrNotModelled reports a configuration the model does not describe
	// (real etcd, an external cluster, a workload other than put).
	ErrNotModelled = errors.New("plan: not modelled")
	// ErrInterrupted reports a measurement stopped before every
	// configuration's knee was found; what was measured is kept.
	ErrInterrupted = errors.New("plan: interrupted")
	// ErrRunDir reports a run directory that cannot be read or resumed.
	ErrRunDir = errors.New("plan: run directory")
)
