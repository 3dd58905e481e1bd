package scaling

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Config shapes a run.
type Config struct {
	Short      bool
	Rounds     int           // of each micro benchmark, every series in turn; default 5
	BenchTime  time.Duration // of each run of a micro benchmark; default 200ms
	ValueSizes []int         // default 100 B, 1 KiB, 10 KiB, 100 KiB, 1 MiB
	BatchSizes []int         // default 1, 10, 100, 1000, 10000
	Entries    []int         // default 10^3 … 10^7
	Instances  InstancesConfig
	Command    string
}

func (c *Config) defaults() {
	c.Rounds = cmpOr(c.Rounds, 5)
	c.BenchTime = cmpOr(c.BenchTime, 200*time.Millisecond)
	if len(c.ValueSizes) == 0 {
		c.ValueSizes = []int{100, 1 << 10, 10 << 10, 100 << 10, 1 << 20}
	}
	if len(c.BatchSizes) == 0 {
		c.BatchSizes = []int{1, 10, 100, 1000, 10_000}
	}
	if len(c.Entries) == 0 {
		c.Entries = []int{1e3, 1e4, 1e5, 1e6, 1e7}
	}
	c.Instances.defaults()
}

// ShortConfig is a run of seconds, for CI: every series at small sizes.
func ShortConfig() Config {
	return Config{Short: true, Rounds: 1, BenchTime: 5 * time.Millisecond,
		ValueSizes: []int{100, 10 << 10}, BatchSizes: []int{1, 100}, Entries: []int{1e3, 1e4},
		Instances: InstancesConfig{Instances: []int{1, 2}, Rate: 400, Keys: 500, MemoryEntries: 100,
			TTL: 200 * time.Millisecond, Warmup: 200 * time.Millisecond, Duration: 300 * time.Millisecond}}
}

// Report is a run.
type Report struct {
	Config    Config
	Machine   string
	Redis     string
	LoadStart string
	LoadEnd   string
	Started   time.Time
	Elapsed   time.Duration
	Values    []ValuesPoint
	Batches   []BatchPoint
	Entries   []EntriesPoint
	Instances []InstancesPoint
}

// Run runs every series.
func Run(ctx context.Context, env *Env, cfg Config, progress io.Writer) (*Report, error) {
	cfg.defaults()
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	say := func(s string) { _, _ = fmt.Fprintf(progress, "[%5.1fs] %s\n", time.Since(start).Seconds(), s) }
	rep := &Report{Config: cfg, Machine: machine(), Redis: env.Redis, LoadStart: loadAvg(), Started: start}
	for _, size := range cfg.ValueSizes {
		say(fmt.Sprintf("scaling: values of %d bytes", size))
		p, err := valuesAt(ctx, env, size, cfg.Rounds, cfg.BenchTime)
		if err != nil {
			return nil, err
		}
		rep.Values = append(rep.Values, *p)
	}
	say("scaling: batch sizes")
	var err error
	if rep.Batches, err = batches(ctx, env, cfg.BatchSizes, cfg.Rounds, cfg.BenchTime); err != nil {
		return nil, err
	}
	if err := env.Cleanup(ctx); err != nil {
		return nil, err
	}
	if rep.Entries, err = entries(ctx, cfg.Entries, cfg.Rounds, cfg.BenchTime, say); err != nil {
		return nil, err
	}
	if rep.Instances, err = instancesRun(ctx, env, cfg.Instances, say); err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(start)
	rep.LoadEnd = loadAvg()
	return rep, nil
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			mem = ", " + strings.Join(strings.Fields(line)[1:], " ") + " RAM"
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s %s/%s", runtime.NumCPU(), cpu, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
