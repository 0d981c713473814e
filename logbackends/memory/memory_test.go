package memory

import (
	"testing"

	"github.com/adrbench/adrbench/logbackends/benchsuite"
	"github.com/adrbench/adrbench/logbackends/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.Volatile, Open: Open})
}

func BenchmarkSave(b *testing.B) { benchsuite.Save(b, Name, Open) }
