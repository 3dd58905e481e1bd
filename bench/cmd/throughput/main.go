// Command throughput measures how many reads, and reads mixed with writes,
// hoard's Aside, otter, sturdyc and go-redis/cache's local cache serve per
// second under contention: a Zipf key stream over a pre-filled cache, by
// 1, 2, 4 and 8 goroutines (issue 15). See
// github.com/hoard-cache/hoard/bench/compare.Throughput.
//
// bench is a module of its own; run it from the repository root with -C:
//
//	go -C bench run ./cmd/throughput
//
// That writes the tables between the <!-- throughput:begin/end --> markers
// of ../docs/benchmarks.md (-docs "" to skip) and ../docs/throughput.png
// (-chart "" to skip), and prints the tables. No Redis is needed: every
// cache is in-process. -short runs for seconds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/hoard-cache/hoard/bench/compare"
	"github.com/hoard-cache/hoard/bench/xfetch"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		docs     = flag.String("docs", "../docs/benchmarks.md", "markdown file whose <!-- throughput:begin/end --> region gets the tables; empty: none")
		chart    = flag.String("chart", "../docs/throughput.png", "the chart's file; empty: none")
		short    = flag.Bool("short", false, "a run of seconds")
		rounds   = flag.Int("rounds", 0, "runs of each cell (default 3)")
		duration = flag.Duration("duration", 0, "length of each run (default 1s)")
	)
	flag.Parse()
	cfg := compare.ThroughputConfig{Rounds: *rounds, Duration: *duration}
	if *short {
		cfg = compare.ShortThroughput()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The caches are in-process; the Env only names the run and its
	// machine, on an in-process miniredis that nothing reads.
	srv, err := xfetch.StartMiniredis()
	if err != nil {
		return err
	}
	env := compare.NewEnvOn(srv)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = env.Close(cctx)
	}()
	rep := compare.RunThroughput(ctx, env, cfg, "go -C bench run ./cmd/throughput "+strings.Join(os.Args[1:], " "), os.Stderr)
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Print(b.String())
	if *chart != "" {
		f, err := os.Create(*chart)
		if err != nil {
			return err
		}
		if err := rep.WriteChart(f); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *docs != "" {
		if err := compare.ThroughputRegion.Update(*docs, b.String()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "throughput: wrote the tables into %s\n", *docs)
	}
	return nil
}
