// Command xfetch runs the XFetch experiment (Vattani, Chierichetti and
// Lowenstein, VLDB 2015) against hoard and prints a markdown report: for
// each strategy (plain cache-aside, hoard with the distributed lock, hoard
// with XFetch early refresh, both), the reads, misses, recomputes and read
// latency of several instances reading one hot key, then whether issue 4's
// targets are met. See package github.com/hoard-cache/hoard/bench/xfetch.
//
// bench is a module of its own, so run it from bench/ (paths are relative
// to it):
//
//	cd bench && go run ./cmd/xfetch -chart ../docs/xfetch-latency.png
//
// or from the repository root with go -C (same working directory):
//
//	go -C bench run ./cmd/xfetch -chart ../docs/xfetch-latency.png
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/hoard-cache/hoard/bench/xfetch"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "xfetch:", err)
		os.Exit(1)
	}
}

func run() error {
	defaultAddr := os.Getenv("HOARD_REDIS_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:6379"
	}
	d := xfetch.Defaults()
	var (
		addr       = flag.String("redis", defaultAddr, "Redis host:port (default $HOARD_REDIS_ADDR, else 127.0.0.1:6379)")
		fallback   = flag.Bool("miniredis", false, "if Redis does not answer, use an in-process miniredis instead of failing")
		short      = flag.Bool("short", false, "a quick run: 2 instances × 4 readers, TTL 300ms, delta 20ms, 1.5s per strategy (flags given still apply)")
		chart      = flag.String("chart", "", "write the latency chart (PNG) of plain and xfetch to this file")
		jsonOut    = flag.String("json", "", "write the report, with every recompute and miss, as JSON to this file")
		instances  = flag.Int("instances", d.Instances, "instances (processes), each with its own Redis client and memory tier")
		readers    = flag.Int("readers", d.Readers, "reader goroutines per instance")
		ttl        = flag.Duration("ttl", d.TTL, "TTL of the hot key")
		duration   = flag.Duration("duration", d.Duration, "how long each strategy reads the hot key, warm-up included")
		warmup     = flag.Duration("warmup", 0, "start of each run left out of the figures (default: one TTL)")
		delta      = flag.Duration("delta", d.Delta, "how long a recompute takes")
		think      = flag.Duration("think", d.Think, "interval between a reader's reads; 0 reads in a tight loop")
		hit        = flag.Duration("hit", d.HitDuration, "length of the pure-hit phase per strategy")
		beta       = flag.Float64("beta", d.Beta, "XFetch's beta")
		strategies = flag.String("strategies", "all", "comma-separated strategies: plain, lock, xfetch, xfetch+lock, or all")
	)
	flag.Parse()

	cfg := d
	if *short {
		cfg = xfetch.Short()
	}
	var err error
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "instances":
			cfg.Instances = *instances
		case "readers":
			cfg.Readers = *readers
		case "ttl":
			cfg.TTL = *ttl
		case "duration":
			cfg.Duration = *duration
		case "warmup":
			cfg.Warmup = *warmup
		case "delta":
			cfg.Delta = *delta
		case "think":
			cfg.Think = *think
			if cfg.Think == 0 {
				cfg.Think = -1 // Config's zero is the default; negative is a tight loop
			}
		case "hit":
			cfg.HitDuration = *hit
		case "beta":
			cfg.Beta = *beta
		case "strategies":
			cfg.Strategies, err = xfetch.ParseStrategies(*strategies)
		}
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	server, err := xfetch.Connect(ctx, *addr, *fallback)
	if err != nil {
		return fmt.Errorf("%w (start one, point -redis at one, or pass -miniredis)", err)
	}
	defer server.Close()
	if server.Miniredis {
		fmt.Fprintf(os.Stderr, "xfetch: WARNING: %s\n", server.Description)
	}

	started := time.Now()
	rep, err := xfetch.Run(ctx, cfg, server, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("Machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; run took %v.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Since(started).Round(time.Second))
	if err := xfetch.WriteMarkdown(os.Stdout, rep); err != nil {
		return err
	}
	if *chart != "" {
		if err := writeFile(*chart, func(w io.Writer) error { return xfetch.WriteChart(w, rep) }); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "xfetch: chart written to %s\n", *chart)
	}
	if *jsonOut != "" {
		err := writeFile(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "xfetch: report written to %s\n", *jsonOut)
	}
	return nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
