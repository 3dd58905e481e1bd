// Command hoard shows hoard's caching patterns at work.
//
// It is a module of its own, github.com/hoard-cache/hoard/cmd/hoard, so
// that the demo's SQL drivers (pgx, SQLite) and its embedded Redis stay out
// of the library's go.mod. From the repository's root:
//
//	go -C cmd/hoard run . demo          # every pattern, on an embedded Redis and SQL database
//	go -C cmd/hoard run . demo --json   # the same, as JSON
//	go -C cmd/hoard install .           # hoard into $(go env GOPATH)/bin, for:
//	hoard assets build static           # fingerprint static files, write the manifest
//	hoard assets ls static/manifest.json
//
// (go -C runs the command in cmd/hoard, so relative paths given to a
// `go -C cmd/hoard run . assets ...` would be read from there.)
//
// The demo exits with status 1 when a pattern broke a promise (a stale
// read where none may be, more than one query per expiry under the lock,
// a lost write), and 2 when it could not run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: hoard <command> [flags]

commands:
  demo   run every caching pattern on a fleet of in-process instances
  assets fingerprint static files for cache busting (build, ls)
  help   show this help

Run "hoard demo -h" for the demo's flags.
`

// run runs the command of args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "demo":
		return demoCommand(ctx, args[1:], stdout, stderr)
	case "assets":
		return assetsCommand(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hoard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
