// Command scaling measures how the cost of hoard's operations grows with
// the value's size (100 B to 1 MB, with and without compression), the
// batch's size (1 to 10,000 ids), the entries held (10^3 to 10^7) and the
// instances sharing one Redis (1 to 8), each against a baseline measured in
// the same run (issue 15). See github.com/hoard-cache/hoard/bench/scaling.
//
// bench is a module of its own; run it from the repository root with -C:
//
//	go -C bench run ./cmd/scaling
//
// It starts a private redis-server (from PATH), so that INFO commandstats
// counts only the run's commands; -redis host:port uses that server
// instead. It writes the tables between the <!-- scaling:begin/end -->
// markers of ../docs/benchmarks.md (-docs "" to skip) and the charts
// ../docs/scaling-*.png (-charts "" to skip), and prints the tables.
// -short runs every series at small sizes in seconds.
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
	"github.com/hoard-cache/hoard/bench/roundtrips"
	"github.com/hoard-cache/hoard/bench/scaling"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scaling:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr   = flag.String("redis", "", "use this Redis (host:port) instead of a private redis-server; the server's command counts are then left out")
		docs   = flag.String("docs", "../docs/benchmarks.md", "markdown file whose <!-- scaling:begin/end --> region gets the tables; empty: none")
		charts = flag.String("charts", "../docs", "directory for scaling-*.png; empty: none")
		short  = flag.Bool("short", false, "a quick run at small sizes (seconds)")
		rounds = flag.Int("rounds", 0, "runs of each micro benchmark (default 5)")
	)
	flag.Parse()
	cfg := scaling.Config{Rounds: *rounds}
	if *short {
		cfg = scaling.ShortConfig()
	}
	cfg.Command = "go -C bench run ./cmd/scaling " + strings.Join(os.Args[1:], " ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	desc, private := fmt.Sprintf("Redis at %s (shared: command counts left out)", *addr), false
	if *addr == "" {
		srv, err := roundtrips.StartServer(ctx)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr, desc, private = srv.Addr, fmt.Sprintf("a private redis-server %s on loopback", srv.Version), true
	}
	env, err := scaling.NewEnv(ctx, *addr, desc, private)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Close(cctx)
	}()
	rep, err := scaling.Run(ctx, env, cfg, os.Stderr)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Print(b.String())
	if *charts != "" {
		if err := rep.WriteCharts(*charts); err != nil {
			return err
		}
	}
	if *docs != "" {
		region := compare.Region{Name: scaling.Region, Heading: "## How cost grows (issue 15)"}
		if err := region.Update(*docs, b.String()); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "scaling: wrote the tables into %s\n", *docs)
	}
	return nil
}
