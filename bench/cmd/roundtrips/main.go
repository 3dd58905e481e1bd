// Command roundtrips counts the Redis round trips and commands of each of
// hoard's operations (a hit, a miss with write-back, a GetMany, a
// write-through, a delete and its bus message, a tag invalidation, a
// namespace bump) and sets each beside the least it could make (issue
// 15). See github.com/hoard-cache/hoard/bench/roundtrips.
//
// bench is a module of its own; run it from the repository root with -C:
//
//	go -C bench run ./cmd/roundtrips
//
// It starts a private redis-server (from PATH), so that INFO commandstats
// counts nothing but its commands; with -redis host:port it uses that
// server instead and counts on the client only. It writes the table
// between the <!-- roundtrips:begin/end --> markers of
// ../docs/benchmarks.md (-docs "" to skip) and prints it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/hoard-cache/hoard/bench/compare"
	"github.com/hoard-cache/hoard/bench/roundtrips"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "roundtrips:", err)
		os.Exit(1)
	}
}

// Region is the part of docs/benchmarks.md this command owns.
var region = compare.Region{Name: "roundtrips", Heading: "## Redis round trips per operation (issue 15)"}

func run() error {
	var (
		addr = flag.String("redis", "", "count on this Redis (host:port) instead of a private redis-server; the server's counts are then left out")
		docs = flag.String("docs", "../docs/benchmarks.md", "markdown file whose <!-- roundtrips:begin/end --> region gets the table; empty: none")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	note, private := fmt.Sprintf("the Redis at %s, shared: its commandstats are not the run's alone and are left out", *addr), false
	if *addr == "" {
		srv, err := roundtrips.StartServer(ctx)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr, note, private = srv.Addr, fmt.Sprintf("a private redis-server %s started for the run", srv.Version), true
	}
	rep, err := roundtrips.Run(ctx, *addr, note, private)
	if err != nil {
		return err
	}
	rep.Command = "go -C bench run ./cmd/roundtrips " + strings.Join(os.Args[1:], " ")
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Print(b.String())
	if *docs != "" {
		if err := region.Update(*docs, b.String()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "roundtrips: wrote the table into %s\n", *docs)
	}
	return nil
}
