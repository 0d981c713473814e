package catalog

import (
	"github.com/spf13/pflag"

	"github.com/adrbench/adrbench/logbackends"
	adrlog "github.com/adrbench/adrbench/logbackends/adr"
	"github.com/adrbench/adrbench/logbackends/async"
	"github.com/adrbench/adrbench/logbackends/batched"
	"github.com/adrbench/adrbench/logbackends/fsync"
	"github.com/adrbench/adrbench/logbackends/memory"
)

// Configs holds the configuration of every backend in the catalog. The
// memory backend has none.
type Configs struct {
	Fsync   fsync.Config   `yaml:"fsync" json:"fsync"`
	Batched batched.Config `yaml:"batched" json:"batched"`
	Async   async.Config   `yaml:"async" json:"async"`
	ADR     adrlog.Config  `yaml:"adr" json:"adr"`
}

// DefaultConfigs returns every backend's DefaultConfig.
func DefaultConfigs() Configs {
	return Configs{
		Fsync:   fsync.DefaultConfig(),
		Batched: batched.DefaultConfig(),
		Async:   async.DefaultConfig(),
		ADR:     adrlog.DefaultConfig(),
	}
}

// AddFlags binds every backend's flags to fs, with c's values as
// defaults. Each flag starts with its backend's name (--adr-region-kind,
// --batched-group-commit-window, ...).
func (c *Configs) AddFlags(fs *pflag.FlagSet) {
	c.Fsync.AddFlags(fs)
	c.Batched.AddFlags(fs)
	c.Async.AddFlags(fs)
	c.ADR.AddFlags(fs)
}

// Validate checks every backend's configuration, whichever one will run,
// so that a bad flag fails at once, and names the first bad one.
func (c Configs) Validate() error {
	for _, v := range []interface{ Validate() error }{c.Fsync, c.Batched, c.Async, c.ADR} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Registry returns a registry of every backend, each opening with its
// configuration in c as it is now.
func (c Configs) Registry() *logbackends.Registry {
	r := logbackends.NewRegistry()
	r.Register(fsync.NewEntry(c.Fsync))
	r.Register(batched.NewEntry(c.Batched))
	r.Register(async.NewEntry(c.Async))
	r.Register(adrlog.NewEntry(c.ADR))
	r.Register(memory.NewEntry())
	return r
}
