// Package hoardtest helps test code built on hoard: [TestCache] is a
// conformance suite that any [hoard.Cache] implementation can run, the way
// golang.org/x/net/nettest tests a net.Conn, and [FakeClock] moves time only
// when a test says so.
package hoardtest
