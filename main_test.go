package hoard_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package ends with no goroutine left behind: loads,
// lock refreshers and background loads all have owners.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
