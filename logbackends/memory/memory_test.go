package memory

import (
	"testing"

	"github.com/adrbench/adrbench/logbackends"
	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.Volatile,
		Open: func(env logbackends.Env, _ conformance.Params) (logbackends.Backend, error) { return Open(env) }})
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, NewEntry().Open) }
