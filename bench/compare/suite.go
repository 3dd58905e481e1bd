package compare

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Config shapes a run of the whole suite.
type Config struct {
	Short bool // made by ShortConfig: small sizes, seconds
	// Count is how many times each micro benchmark runs, interleaved with
	// the other libraries' (every library once, then again); the tables
	// give the median.
	Count int
	// BenchTime is each micro benchmark run's -test.benchtime.
	BenchTime time.Duration
	// MicroKeys is how many keys the micro workloads read in turn (at
	// least 2 batches). Default: DefaultMicroKeys.
	MicroKeys int
	Stampede  StampedeConfig
	Storm     StormConfig
	Zipf      ZipfConfig
	Memory    MemoryConfig
	// Command is the command line the report names.
	Command string
}

// FullConfig is the run the docs report: under 10 minutes on 2 cores.
func FullConfig() Config {
	return Config{Count: 9, BenchTime: 300 * time.Millisecond}
}

// ShortConfig is a run of seconds, for CI: every workload, small sizes.
func ShortConfig() Config {
	return Config{
		Short: true, Count: 1, BenchTime: 5 * time.Millisecond, MicroKeys: 2 * batchSize,
		Stampede: StampedeConfig{Goroutines: 50, Rounds: 1, Delay: 50 * time.Millisecond},
		// go-redis/cache turns a TTL under 1s into 1h: the TTL stays 1s.
		Storm: StormConfig{Instances: 2, Readers: 2, TTL: time.Second, Duration: 2 * time.Second, Warmup: time.Second,
			Think: time.Millisecond, HitPhase: 300 * time.Millisecond},
		Zipf:   ZipfConfig{Keys: 20_000, Capacity: 200, Reads: 20_000},
		Memory: MemoryConfig{Entries: 2_000},
	}
}

// MicroRow is one library's figures in a micro workload.
type MicroRow struct {
	Lib      Lib
	Note     string
	NsPerOp  []float64 // one per round
	Allocs   int64     // allocs/op of the last round
	Bytes    int64     // B/op of the last round
	Measured bool      // false: the library cannot run the workload (Note says why)
	Err      error
}

// Median is the median ns/op over the rounds.
func (r *MicroRow) Median() float64 {
	if len(r.NsPerOp) == 0 {
		return 0
	}
	xs := slices.Clone(r.NsPerOp)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// MicroTable is a micro workload's rows.
type MicroTable struct {
	Name     string
	Rows     []MicroRow
	Findings []string
}

// Row returns lib's row, or nil.
func (t *MicroTable) Row(lib Lib) *MicroRow {
	for i := range t.Rows {
		if t.Rows[i].Lib == lib {
			return &t.Rows[i]
		}
	}
	return nil
}

// Machine is what the run ran on.
type Machine struct {
	Cores     int
	CPU       string
	Go        string
	OS        string
	Redis     string
	LoadStart string // /proc/loadavg at the start
	LoadEnd   string // and at the end
}

// Report is a run of the suite.
type Report struct {
	Config  Config
	Machine Machine
	Started time.Time
	Elapsed time.Duration

	MemoryHit, MemoryHitParallel, RedisHit, BatchMemory, BatchRedis *MicroTable

	Stampede []StampedeResult
	Storm    []StormResult
	Zipf     []ZipfResult
	Memory   []MemoryResult
}

// Run runs every workload on env and returns the report, writing a line of
// progress to progress (nil for none) as each begins.
func Run(ctx context.Context, env *Env, cfg Config, progress io.Writer) (*Report, error) {
	if progress == nil {
		progress = io.Discard
	}
	progress = stamped{progress, time.Now()}
	cfg.Count = max(1, cfg.Count)
	n := max(2*batchSize, cmpOr(cfg.MicroKeys, DefaultMicroKeys))
	if cfg.BenchTime <= 0 {
		cfg.BenchTime = time.Second
	}
	rep := &Report{Config: cfg, Started: time.Now(), Machine: machine(env)}
	restore, err := setBenchTime(cfg.BenchTime)
	if err != nil {
		return nil, err
	}
	defer restore()

	type build struct {
		dst  **MicroTable
		make func() (*Micro, error)
	}
	builds := []build{
		{&rep.MemoryHit, func() (*Micro, error) { return MemoryHit(env, n, false) }},
		{&rep.MemoryHitParallel, func() (*Micro, error) { return MemoryHit(env, n, true) }},
		{&rep.RedisHit, func() (*Micro, error) { return RedisHit(env, n) }},
		{&rep.BatchMemory, func() (*Micro, error) { return BatchMemory(env, n) }},
		{&rep.BatchRedis, func() (*Micro, error) { return BatchRedis(env, n) }},
	}
	var micros []*Micro
	defer func() {
		for _, m := range micros {
			m.Close()
		}
	}()
	for _, b := range builds {
		m, err := b.make()
		if err != nil {
			return nil, err
		}
		micros = append(micros, m)
		t := &MicroTable{Name: m.Name, Findings: m.Findings}
		for _, c := range m.Cases {
			t.Rows = append(t.Rows, MicroRow{Lib: c.Lib, Note: c.Note, Measured: c.Bench != nil})
		}
		*b.dst = t
	}
	tables := []*MicroTable{rep.MemoryHit, rep.MemoryHitParallel, rep.RedisHit, rep.BatchMemory, rep.BatchRedis}
	for round := range cfg.Count {
		_, _ = fmt.Fprintf(progress, "compare: micro benchmarks, round %d of %d (%v each)\n", round+1, cfg.Count, cfg.BenchTime)
		for i, m := range micros {
			// The order turns by one each round, so no library always
			// runs first, right after another workload's last run.
			for k := range m.Cases {
				j := (k + round) % len(m.Cases)
				c := m.Cases[j]
				if c.Bench == nil {
					continue
				}
				r := testing.Benchmark(c.Bench)
				row := &tables[i].Rows[j]
				if err := c.Err(); err != nil && row.Err == nil {
					row.Err = err
				}
				if r.N == 0 {
					if row.Err == nil {
						row.Err = fmt.Errorf("%s: the benchmark failed", c.Lib)
					}
					continue
				}
				row.NsPerOp = append(row.NsPerOp, float64(r.T.Nanoseconds())/float64(r.N))
				row.Allocs, row.Bytes = r.AllocsPerOp(), r.AllocedBytesPerOp()
			}
		}
	}
	for _, m := range micros {
		m.Close()
	}
	micros = nil

	_, _ = fmt.Fprintln(progress, "compare: stampede")
	rep.Stampede = Stampede(ctx, env, cfg.Stampede)
	_, _ = fmt.Fprintln(progress, "compare: expiry storm")
	rep.Storm = Storm(ctx, env, cfg.Storm)
	_, _ = fmt.Fprintln(progress, "compare: Zipf hit ratio")
	rep.Zipf = Zipf(ctx, env, cfg.Zipf)
	_, _ = fmt.Fprintln(progress, "compare: memory per entry")
	rep.Memory = Memory(ctx, cfg.Memory)
	rep.Elapsed = time.Since(rep.Started)
	rep.Machine.LoadEnd = loadAvg()
	return rep, nil
}

// stamped prefixes each progress line with the time since the start.
type stamped struct {
	w     io.Writer
	start time.Time
}

func (s stamped) Write(p []byte) (int, error) {
	_, err := fmt.Fprintf(s.w, "[%5.1fs] %s", time.Since(s.start).Seconds(), p)
	return len(p), err
}

// setBenchTime sets testing.Benchmark's -test.benchtime, registering the
// testing flags first when this is not a test binary; restore puts it back.
func setBenchTime(d time.Duration) (restore func(), err error) {
	if flag.Lookup("test.benchtime") == nil {
		testing.Init()
	}
	f := flag.Lookup("test.benchtime")
	old := f.Value.String()
	if err := f.Value.Set(d.String()); err != nil {
		return nil, err
	}
	return func() { _ = f.Value.Set(old) }, nil
}

func machine(env *Env) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Redis: env.Server.Description, LoadStart: loadAvg(), CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
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
