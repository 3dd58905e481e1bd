// Command compare runs hoard and its peer libraries (go-redis/cache,
// sturdyc, otter, raw go-redis, a naive cache-aside) side by side on the
// same workloads against the same Redis, in one process, and writes
// markdown tables with each figure's ratio to hoard and a verdict against
// hoard's targets, plus PNG charts of the stampede, the expiry storm and
// the hit ratio. See package github.com/hoard-cache/hoard/bench/compare.
//
// bench is a module of its own; run it from bench/ (paths are relative to
// it), or from the repository root with go -C:
//
//	HOARD_REDIS_ADDR=127.0.0.1:6379 go -C bench run ./cmd/compare
//
// That writes the report between the markers of ../docs/benchmarks.md
// (-docs "" to skip) and the charts into ../docs (-charts "" to skip), and
// prints the report. -short runs every workload at small sizes in seconds.
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
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run() error {
	defaultAddr := os.Getenv("HOARD_REDIS_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:6379"
	}
	var (
		addr      = flag.String("redis", defaultAddr, "Redis host:port (default $HOARD_REDIS_ADDR, else 127.0.0.1:6379)")
		fallback  = flag.Bool("miniredis", false, "if Redis does not answer, use an in-process miniredis instead of failing")
		short     = flag.Bool("short", false, "a quick run at small sizes (seconds), for CI")
		docs      = flag.String("docs", "../docs/benchmarks.md", "markdown file whose <!-- compare:begin/end --> region gets the report; empty: none")
		charts    = flag.String("charts", "../docs", "directory for compare-*.png; empty: none")
		out       = flag.String("out", "", "also write the report to this file")
		count     = flag.Int("count", 0, "runs of each micro benchmark (default 9, short 1)")
		benchtime = flag.Duration("benchtime", 0, "length of each micro benchmark run (default 300ms, short 5ms)")
	)
	flag.Parse()
	cfg := compare.FullConfig()
	if *short {
		cfg = compare.ShortConfig()
	}
	if *count > 0 {
		cfg.Count = *count
	}
	if *benchtime > 0 {
		cfg.BenchTime = *benchtime
	}
	cfg.Command = command()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	env, err := compare.NewEnv(ctx, *addr, *fallback)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Close(cctx); err != nil {
			fmt.Fprintln(os.Stderr, "compare: cleaning up:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "compare: %s, keys under %q\n", env.Server.Description, env.Prefix)
	rep, err := compare.Run(ctx, env, cfg, os.Stderr)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if *charts != "" {
		if err := rep.WriteCharts(*charts); err != nil {
			return err
		}
	}
	if *docs != "" {
		if err := compare.UpdateDoc(*docs, b.String()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "compare: wrote the report into %s\n", *docs)
	}
	return nil
}

// command is the command line as run from the repository root.
func command() string {
	var env string
	if a := os.Getenv("HOARD_REDIS_ADDR"); a != "" {
		env = "HOARD_REDIS_ADDR=" + a + " "
	}
	args := append([]string{"go -C bench run ./cmd/compare"}, os.Args[1:]...)
	return env + strings.Join(args, " ")
}
