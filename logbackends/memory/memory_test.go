package memory

import (
	"testing"

	"github.com/adrbench/adrbench/logbackends/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Factory{Name: Name, Durability: conformance.Volatile, Open: Open})
}
