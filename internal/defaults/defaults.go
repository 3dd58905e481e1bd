// Package defaults gives hoard's packages the defaults they share for
// options left nil: the system clock and the JSON codec.
package defaults

import "github.com/hoard-cache/hoard"

// Clock returns c, or hoard.SystemClock when c is nil.
func Clock(c hoard.Clock) hoard.Clock {
	if c == nil {
		return hoard.SystemClock{}
	}
	return c
}

// Codec returns c, or hoard.JSON when c is nil.
func Codec(c hoard.Codec) hoard.Codec {
	if c == nil {
		return hoard.JSON
	}
	return c
}
