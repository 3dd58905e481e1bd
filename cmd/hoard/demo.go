package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// config is the demo's settings, from its flags.
type config struct {
	redisAddr string // host:port, or a redis:// or rediss:// URL; "" for the embedded miniredis
	dbURL     string // PostgreSQL; "" for the embedded SQLite
	instances int
	duration  time.Duration
	products  int
	latency   time.Duration
	writes    int
	json      bool
	live      bool // rewrite the progress line in place (stderr is a terminal)
}

func (c *config) validate() error {
	switch {
	case c.instances < 2:
		return fmt.Errorf("--instances %d: need at least 2", c.instances)
	case c.duration <= 0:
		return fmt.Errorf("--duration %v: must be positive", c.duration)
	case c.products < 100:
		return fmt.Errorf("--products %d: need at least 100", c.products)
	case c.latency <= 0:
		return fmt.Errorf("--latency %v: must be positive", c.latency)
	case c.writes < c.instances:
		return fmt.Errorf("--writes %d: need at least one per instance", c.writes)
	}
	if c.redisAddr != "" {
		if _, err := redisOptions(c.redisAddr); err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
	}
	return nil
}

// scenario is one timed run of the demo.
type scenario struct {
	name string
	run  func(ctx context.Context, e *env, p progress) (*result, error)
}

var scenarios = []scenario{
	{"cache-aside", runCacheAside},
	{"stampede", runStampede},
	{"early-refresh", runEarlyRefresh},
	{"writes", runWrites},
	{"invalidation", runInvalidation},
	{"http", runHTTP},
	{"changes", runChanges},
}

// report is the demo's --json output.
type report struct {
	Redis     string    `json:"redis"`
	Database  string    `json:"database"`
	Instances int       `json:"instances"`
	Duration  string    `json:"duration_per_scenario"`
	Scenarios []*result `json:"scenarios"`
	Notes     []string  `json:"notes"`
	OK        bool      `json:"ok"`
}

// notes are said before the scenarios run: none today.
var notes = []string{}

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hoard demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.redisAddr, "redis", os.Getenv("HOARD_REDIS_ADDR"), "`address` of a Redis to use, host:port or a redis:// or rediss:// URL (default $HOARD_REDIS_ADDR, else an embedded miniredis)")
	fs.StringVar(&cfg.dbURL, "db", os.Getenv("HOARD_POSTGRES_URL"), "PostgreSQL `URL` to use, in a schema of its own dropped at exit (default $HOARD_POSTGRES_URL, else an embedded SQLite)")
	fs.IntVar(&cfg.instances, "instances", 3, "service instances, each its own Redis client and memory tier")
	fs.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long each scenario runs")
	fs.IntVar(&cfg.products, "products", 10_000, "products in the catalogue")
	fs.DurationVar(&cfg.latency, "latency", 2*time.Millisecond, "simulated time of one database query")
	fs.IntVar(&cfg.writes, "writes", 2000, "updates in the write-through and in the write-behind run")
	fs.BoolVar(&cfg.json, "json", false, "print machine-readable results instead of tables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hoard demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "hoard demo: %v\n", err)
		return 2
	}
	// stdout is the report alone (tables, or the JSON), so it can be
	// redirected or piped; progress goes to stderr, rewritten in place only
	// when stderr is a terminal, else a plain line each second.
	p := progress{w: stderr}
	if f, ok := stderr.(*os.File); ok {
		cfg.live = isTerminal(f)
	}
	ok, err := demo(ctx, cfg, stdout, p)
	if err != nil {
		fmt.Fprintf(stderr, "hoard demo: %v\n", err)
		return 2
	}
	if !ok {
		return 1
	}
	return 0
}

// demo runs every scenario and reports whether every promise was kept.
func demo(ctx context.Context, cfg config, out io.Writer, p progress) (bool, error) {
	p.live = cfg.live
	e, err := newEnv(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer e.Close()
	rep := report{
		Redis:     e.redisDesc,
		Database:  fmt.Sprintf("%s, %s products, %v per query", e.db.desc, fmtInt(int64(cfg.products)), cfg.latency),
		Instances: cfg.instances,
		Duration:  cfg.duration.String(),
		Notes:     notes,
		OK:        true,
	}
	if !cfg.json {
		fmt.Fprintf(out, "hoard demo: %d instances, each its own Redis client and memory tier\n", cfg.instances)
		fmt.Fprintf(out, "  redis:    %s\n  database: %s\n", rep.Redis, rep.Database)
		for _, n := range rep.Notes {
			fmt.Fprintf(out, "  note:     %s\n", n)
		}
	}
	var skipped []string
	for _, s := range scenarios {
		r, err := s.run(ctx, e, p)
		if err != nil {
			return false, fmt.Errorf("scenario %s: %w", s.name, err)
		}
		r.Name = s.name
		if r.Promises == nil {
			r.Promises = []promise{} // [] in JSON, not null
		}
		rep.Scenarios = append(rep.Scenarios, r)
		rep.OK = rep.OK && r.ok()
		if r.Skipped != "" {
			skipped = append(skipped, s.name)
		}
		if !cfg.json {
			r.print(out)
		}
	}
	if cfg.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return false, err
		}
	} else if rep.OK && len(skipped) > 0 {
		fmt.Fprintf(out, "\nevery promise kept (skipped here: %s, see above)\n", strings.Join(skipped, ", "))
	} else if rep.OK {
		fmt.Fprintln(out, "\nevery promise kept")
	} else {
		fmt.Fprintln(out, "\nBROKEN: a pattern broke a promise (see above)")
	}
	return rep.OK, nil
}
