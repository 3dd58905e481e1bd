package xfetch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Strategy is a way of reading the hot key.
type Strategy uint8

// The strategies.
const (
	// Plain is the cache-aside a user writes by hand with go-redis: GET; on
	// a miss recompute and SET with the TTL. No protection.
	Plain Strategy = iota + 1
	// Lock is hoard's Aside with the distributed Locker and no early
	// refresh: on expiry one process recomputes and the readers of every
	// process wait for it.
	Lock
	// XFetch is hoard's Aside with early refresh and no Locker: at most
	// one refresh per process per expiry.
	XFetch
	// XFetchLock is hoard's Aside with early refresh and the Locker.
	XFetchLock
)

var strategyNames = [...]string{Plain: "plain", Lock: "lock", XFetch: "xfetch", XFetchLock: "xfetch+lock"}

// Strategies returns every strategy, in the order of the report.
func Strategies() []Strategy { return []Strategy{Plain, Lock, XFetch, XFetchLock} }

// String returns the strategy's name: "plain", "lock", "xfetch",
// "xfetch+lock".
func (s Strategy) String() string {
	if s.valid() {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", s)
}

// MarshalText returns the strategy's name, for JSON.
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Strategy) valid() bool { return s >= Plain && s <= XFetchLock }

// earlyRefresh reports whether the strategy turns XFetch on.
func (s Strategy) earlyRefresh() bool { return s == XFetch || s == XFetchLock }

// locked reports whether the strategy uses the distributed Locker.
func (s Strategy) locked() bool { return s == Lock || s == XFetchLock }

// ParseStrategies parses a comma-separated list of strategy names; "all"
// (or "") is every strategy.
func ParseStrategies(list string) ([]Strategy, error) {
	if list == "" || list == "all" {
		return Strategies(), nil
	}
	var out []Strategy
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range Strategies() {
			if s.String() == name {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("xfetch: unknown strategy %q (want plain, lock, xfetch, xfetch+lock or all)", name)
		}
	}
	return out, nil
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
