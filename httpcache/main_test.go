package httpcache_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test ends with no goroutine left behind: renders, background
// refreshes and lock refreshers all have owners.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
