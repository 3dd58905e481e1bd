package xfetch

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config describes one run of the experiment. The zero value of a field
// takes the default [Defaults] gives it.
type Config struct {
	// Instances is the number of instances (processes), each with its own
	// Redis client and memory tier. Default: 4.
	Instances int

	// Readers is the number of reader goroutines per instance. Default: 16.
	Readers int

	// TTL is how long a recomputed value stays fresh. Default: 1s.
	TTL time.Duration

	// Duration is how long the readers read the hot key, warm-up included.
	// Default: 8s.
	Duration time.Duration

	// Warmup is the start of the run left out of the figures. Default: TTL.
	Warmup time.Duration

	// Delta is how long a recompute takes (time.Sleep). Default: 50ms.
	Delta time.Duration

	// Think is the interval at which each reader sends a read; a negative
	// value reads in a tight loop, with no think time and no correction for
	// stalls. Default: 1ms.
	Think time.Duration

	// HitDuration is how long the pure-hit phase reads a key with a long
	// TTL through the same path, per strategy, after a quarter as long
	// left out while the clients open their connections. Default: 2s.
	HitDuration time.Duration

	// Beta is XFetch's beta. Default: 1 (hoard's default, the paper's
	// optimum).
	Beta float64

	// Strategies are the strategies to run, in order. Default: all four.
	Strategies []Strategy

	// KeyPrefix starts every Redis key the run writes; each strategy adds
	// its own suffix. Default: "xfetch-bench-" and random hex.
	KeyPrefix string

	// MaxSamples bounds the latency samples each reader keeps; past it the
	// reader keeps one sample in two, then one in four..., so the samples
	// stay spread over the run. Counts (reads, misses, max) stay exact.
	// Default: enough for every request of a paced reader, 1<<16 with a
	// tight loop.
	MaxSamples int

	// ChartWindow is how much of the run after the warm-up the samples
	// kept for the chart cover. Default: 2 TTLs.
	ChartWindow time.Duration
}

// Defaults returns the default configuration: 4 instances × 16 readers,
// TTL 1s, 8s per strategy, Delta 50ms, a read per reader every 1ms.
func Defaults() Config {
	return Config{
		Instances:   4,
		Readers:     16,
		TTL:         time.Second,
		Duration:    8 * time.Second,
		Delta:       50 * time.Millisecond,
		Think:       time.Millisecond,
		HitDuration: 2 * time.Second,
		Beta:        1,
		Strategies:  Strategies(),
	}
}

// Short returns a configuration for a quick run (tests, -short): 2
// instances × 4 readers, TTL 300ms, Delta 20ms, 1.5s per strategy.
func Short() Config {
	return Config{
		Instances:   2,
		Readers:     4,
		TTL:         300 * time.Millisecond,
		Duration:    1500 * time.Millisecond,
		Delta:       20 * time.Millisecond,
		Think:       time.Millisecond,
		HitDuration: 300 * time.Millisecond,
		Beta:        1,
		Strategies:  Strategies(),
	}
}

// withDefaults fills the unset fields of c from [Defaults] and checks the
// result.
func (c Config) withDefaults() (Config, error) {
	d := Defaults()
	setDefault(&c.Instances, d.Instances)
	setDefault(&c.Readers, d.Readers)
	setDefault(&c.TTL, d.TTL)
	setDefault(&c.Duration, d.Duration)
	setDefault(&c.Delta, d.Delta)
	setDefault(&c.Think, d.Think)
	setDefault(&c.HitDuration, d.HitDuration)
	setDefault(&c.Beta, d.Beta)
	setDefault(&c.Warmup, c.TTL)
	setDefault(&c.ChartWindow, 2*c.TTL)
	if len(c.Strategies) == 0 {
		c.Strategies = d.Strategies
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "xfetch-bench-" + randomHex(4)
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = 1 << 16
		if c.Think > 0 {
			// A paced reader records at most one request per Think, plus
			// the read that ends the run.
			c.MaxSamples = int(max(c.Duration, c.HitDuration)/c.Think) + 64
		}
	}
	return c, c.validate()
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

func (c *Config) validate() error {
	switch {
	case c.Instances < 1 || c.Readers < 1:
		return fmt.Errorf("xfetch: %d instances × %d readers: need at least one of each", c.Instances, c.Readers)
	case c.TTL < 10*time.Millisecond:
		return fmt.Errorf("xfetch: TTL %v is below 10ms", c.TTL)
	case c.Delta <= 0 || c.Delta >= c.TTL:
		return fmt.Errorf("xfetch: Delta %v must be positive and below TTL %v", c.Delta, c.TTL)
	case c.Warmup < 0 || c.Warmup >= c.Duration:
		return fmt.Errorf("xfetch: Warmup %v must be within Duration %v", c.Warmup, c.Duration)
	case c.HitDuration < 0:
		return fmt.Errorf("xfetch: HitDuration %v is negative", c.HitDuration)
	case c.Beta < 0 || math.IsNaN(c.Beta) || math.IsInf(c.Beta, 0):
		return fmt.Errorf("xfetch: Beta %v is not a finite number ≥ 0", c.Beta)
	case c.MaxSamples < 2:
		return fmt.Errorf("xfetch: MaxSamples %d is below 2", c.MaxSamples)
	}
	for _, s := range c.Strategies {
		if !s.valid() {
			return fmt.Errorf("xfetch: unknown strategy %d", s)
		}
	}
	return nil
}

// periods is the number of TTL periods the figures cover.
func (c *Config) periods() float64 {
	return float64(c.Duration-c.Warmup) / float64(c.TTL)
}

// missThreshold is the latency from which a request counts as a miss.
func (c *Config) missThreshold() time.Duration { return c.Delta / 2 }

// errNoRedis is returned when Redis does not answer and the fallback is
// off.
var errNoRedis = errors.New("xfetch: Redis does not answer")
