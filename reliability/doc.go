// Package reliability is hoard's fault suite: tests that inject real faults
// between hoard and its servers and check what must still hold.
//
// It is a module of its own, so its test dependencies (toxiproxy, an
// in-process TCP proxy that slows, resets and cuts connections) never
// become dependencies of hoard. Faults are real: the tests start their own
// redis-server processes on free ports (and kill, restart or fail them
// over), put a toxiproxy proxy between the clients and Redis, kill
// connections with CLIENT KILL, and make the source of truth fail on
// demand. They never touch the shared servers destructively.
//
// The tests skip, saying why, when redis-server is not on PATH. Run them
// from this directory:
//
//	go test -race ./...
//	go test -race -run TestSoak -soak 10m .
//
// docs/reliability.md lists what each test injects, what it checks, and
// the figures of the last run.
package reliability
