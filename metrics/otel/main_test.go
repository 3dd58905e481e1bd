package otel

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package ends with no goroutine left behind: the
// traced locker's ends of waits run once, when their ctx ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
