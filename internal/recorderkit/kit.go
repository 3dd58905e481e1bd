package recorderkit

import (
	"fmt"
	"math"
	"strings"

	"github.com/hoard-cache/hoard"
)

// EventKey names the series of one event of one cache at one tier.
type EventKey struct {
	Cache string
	Event hoard.Event
	Tier  hoard.Tier
}

// LoadKey names the load-duration series of one cache and outcome.
type LoadKey struct {
	Cache  string
	Failed bool
}

// DefaultLoadBuckets returns the default latency buckets, in seconds:
// 0.5 ms doubling 16 times, to about 16 s.
func DefaultLoadBuckets() []float64 {
	b := make([]float64, 16)
	for i := range b {
		b[i] = 0.0005 * math.Pow(2, float64(i))
	}
	return b
}

// ValidBuckets checks what the metric libraries would otherwise panic on,
// or silently replace: bounds that are NaN, infinite or not strictly
// increasing. A last bound of +Inf is accepted when infLast is true
// (Prometheus adds that bucket anyway). An empty list is refused too, as it
// leaves a single bucket.
func ValidBuckets(b []float64, infLast bool) error {
	if n := len(b); infLast && n > 1 && math.IsInf(b[n-1], 1) {
		b = b[:n-1]
	}
	if len(b) == 0 {
		return fmt.Errorf("no bucket")
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bucket %d is %g", i, v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("bucket %d (%g) is not above bucket %d (%g)", i, v, i-1, b[i-1])
		}
	}
	return nil
}

// Label makes s valid UTF-8: client_golang panics on invalid UTF-8 label
// values, and OTLP's protobuf encoding requires valid strings.
func Label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
