package compare

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/bench/xfetch"
)

// testEnv is the Redis at $HOARD_REDIS_ADDR, or an in-process miniredis
// when it is unset; its keys are deleted when the test ends.
func testEnv(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	var env *Env
	if addr := os.Getenv("HOARD_REDIS_ADDR"); addr != "" {
		e, err := NewEnv(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		env = e
	} else {
		srv, err := xfetch.StartMiniredis()
		if err != nil {
			t.Fatal(err)
		}
		env = NewEnvOn(srv)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := env.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return env
}

// TestCompareShort runs the whole suite at ShortConfig's sizes and checks
// that it completes and that its figures are sane: it keeps the command
// compiling and working in CI.
func TestCompareShort(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	cfg := ShortConfig()
	cfg.Command = "go -C bench run ./cmd/compare -short"
	rep, err := Run(ctx, env, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	for _, tab := range []*MicroTable{rep.MemoryHit, rep.MemoryHitParallel, rep.RedisHit, rep.BatchMemory, rep.BatchRedis} {
		for _, r := range tab.Rows {
			if !r.Measured {
				continue
			}
			if r.Err != nil || len(r.NsPerOp) == 0 || r.NsPerOp[0] <= 0 {
				t.Errorf("%s/%s: %v, %v ns/op", tab.Name, r.Lib, r.Err, r.NsPerOp)
			}
		}
	}
	if h := rep.MemoryHit.Row(Hoard); h != nil && h.Allocs != 0 {
		t.Logf("hoard's in-process hit allocates %d times per op", h.Allocs)
	}

	c := cfg.Stampede
	c.defaults()
	for _, s := range rep.Stampede {
		if s.Err != nil {
			t.Errorf("stampede %s: %v", s.Lib, s.Err)
			continue
		}
		lo, hi := minMax(s.Loads)
		switch s.Lib {
		case Hoard:
			if lo != 1 || hi != 1 {
				t.Errorf("stampede: hoard with a Locker loaded %v times, want 1 per stampede", s.Loads)
			}
		case HoardNoLock, GoRedisCache:
			if lo < 1 || hi > int64(c.Instances) {
				t.Errorf("stampede: %s loaded %v times, want 1 to %d (at most one per instance)", s.Lib, s.Loads, c.Instances)
			}
		case Naive:
			if lo <= int64(c.Instances) {
				t.Errorf("stampede: the naive cache-aside loaded only %v times", s.Loads)
			}
		}
	}
	for _, s := range rep.Storm {
		if s.Err != nil || s.Reads == 0 || s.HitP99 <= 0 {
			t.Errorf("storm %s: %v, %d reads, hit p99 %v", s.Lib, s.Err, s.Reads, s.HitP99)
		}
	}
	ratios := map[Lib]float64{}
	for _, z := range rep.Zipf {
		if z.Err != nil || z.HitRatio < 0.2 || z.HitRatio > 0.95 {
			t.Errorf("zipf %s: hit ratio %.3f, %v", z.Lib, z.HitRatio, z.Err)
		}
		ratios[z.Lib] = z.HitRatio
	}
	if ratios[Hoard] < ratios[LRU] || ratios[Hoard] < ratios[Otter]-0.03 {
		t.Errorf("zipf: hoard %.3f, otter %.3f, LRU %.3f: hoard should be near otter and above LRU", ratios[Hoard], ratios[Otter], ratios[LRU])
	}
	m := cfg.Memory
	m.defaults()
	for _, r := range rep.Memory {
		if r.Err != nil || r.Held < m.Entries*9/10 || r.PerEntry < float64(m.ValueBytes) || r.PerEntry > 4096 {
			t.Errorf("memory %s: %d held, %.0f B/entry, %v", r.Lib, r.Held, r.PerEntry, r.Err)
		}
	}

	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Targets", "### 1.", "### 2.", "### 3a.", "### 3b.", "### 4.", "### 5.", "### 6.", "### 7.", cfg.Command} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the report has no %q", want)
		}
	}
	dir := t.TempDir()
	if err := rep.WriteCharts(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"compare-stampede.png", "compare-storm.png", "compare-hitratio.png"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("chart %s: %v", name, err)
		}
	}

	if _, err := env.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	left, err := leftKeys(ctx, env)
	if err != nil || left != 0 {
		t.Errorf("%d keys of the run left in Redis (%v)", left, err)
	}
}

// leftKeys counts the run's keys in Redis.
func leftKeys(ctx context.Context, env *Env) (int, error) {
	c := goredis.NewClient(&goredis.Options{Addr: env.Server.Addr})
	defer c.Close()
	keys, _, err := c.Scan(ctx, 0, env.Prefix+"*", 100000).Result()
	return len(keys), err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestReplaceMarked(t *testing.T) {
	doc := "# Benchmarks\n\n## XFetch\n\ntext\n"
	once, err := ReplaceMarked([]byte(doc), "table 1\n")
	if err != nil {
		t.Fatal(err)
	}
	want := doc[:len(doc)-1] + "\n\n" + heading + "\n\n" + BeginMarker + "\n\ntable 1\n\n" + EndMarker + "\n"
	if string(once) != want {
		t.Fatalf("appended:\n%q\nwant\n%q", once, want)
	}
	// Someone edits above and below the region; a second run keeps that.
	edited := strings.Replace(string(once), "text\n", "text, edited\n", 1) + "\n## Later section\n"
	twice, err := ReplaceMarked([]byte(edited), "table 2\n")
	if err != nil {
		t.Fatal(err)
	}
	want = strings.Replace(edited, "table 1", "table 2", 1)
	if string(twice) != want {
		t.Fatalf("replaced:\n%q\nwant\n%q", twice, want)
	}
	if _, err := ReplaceMarked([]byte(EndMarker+"\n"+BeginMarker), "x"); err == nil {
		t.Error("markers out of order: no error")
	}
	if _, err := ReplaceMarked([]byte(BeginMarker+"\n"), "x"); err == nil {
		t.Error("a lone marker: no error")
	}
}

// The micro workloads as Go benchmarks: go test -bench . (real Redis with
// HOARD_REDIS_ADDR, else miniredis).

func BenchmarkMemoryHit(b *testing.B) {
	env := testEnv(b)
	for _, mode := range []string{"serial", "parallel"} {
		m, err := MemoryHit(env, DefaultMicroKeys, mode == "parallel")
		if err != nil {
			b.Fatal(err)
		}
		runMicro(b, m, "mode="+mode+"/")
		m.Close()
	}
}

func BenchmarkRedisHit(b *testing.B) {
	env := testEnv(b)
	m, err := RedisHit(env, DefaultMicroKeys)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	runMicro(b, m, "")
}

func BenchmarkBatch(b *testing.B) {
	env := testEnv(b)
	for _, tier := range []string{"memory", "redis"} {
		build := BatchMemory
		if tier == "redis" {
			build = BatchRedis
		}
		m, err := build(env, DefaultMicroKeys)
		if err != nil {
			b.Fatal(err)
		}
		runMicro(b, m, "tier="+tier+"/")
		m.Close()
	}
}

func runMicro(b *testing.B, m *Micro, prefix string) {
	for _, f := range m.Findings {
		b.Log(f)
	}
	for _, c := range m.Cases {
		if c.Bench == nil {
			continue
		}
		b.Run(prefix+"lib="+slug(c.Lib), func(b *testing.B) {
			c.Bench(b)
			if err := c.Err(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
