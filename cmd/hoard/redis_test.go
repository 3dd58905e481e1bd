package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRedisOptions(t *testing.T) {
	for _, c := range []struct {
		addr, desc string
		user, pass string
	}{
		{"127.0.0.1:6379", "Redis at 127.0.0.1:6379", "", ""},
		{"redis://127.0.0.1:6380", "Redis at 127.0.0.1:6380", "", ""},
		{"redis://app:s3cret@cache.internal:6379/2", "Redis at cache.internal:6379, database 2", "app", "s3cret"},
		{"rediss://:s3cret@cache.internal:6380", "Redis at cache.internal:6380, TLS", "", "s3cret"},
	} {
		o, err := redisOptions(c.addr)
		if err != nil {
			t.Errorf("redisOptions(%q): %v", c.addr, err)
			continue
		}
		if got := describeRedis(o); got != c.desc {
			t.Errorf("describeRedis(%q) = %q; want %q", c.addr, got, c.desc)
		}
		if o.Username != c.user || o.Password != c.pass {
			t.Errorf("redisOptions(%q): user %q, password %q; want %q, %q", c.addr, o.Username, o.Password, c.user, c.pass)
		}
	}
	for _, addr := range []string{"http://127.0.0.1:6379", "redis://app:s3cret@[::1"} {
		_, err := redisOptions(addr)
		if err == nil {
			t.Errorf("redisOptions(%q): no error", addr)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("redisOptions(%q): the error shows the password: %v", addr, err)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestRedisDown: a Redis that does not answer is said in one line, at
// once, with no log line of go-redis's, and the demo exits 2.
func TestRedisDown(t *testing.T) {
	var redisLines bytes.Buffer
	redisLog.l.SetOutput(&redisLines)
	t.Cleanup(func() { redisLog.l.SetOutput(os.Stderr) })
	addr := closedAddr(t)
	for _, arg := range []string{addr, "redis://" + addr + "/1"} {
		began := time.Now()
		code, out, errs := runDemo(t, "--redis="+arg)
		if took := time.Since(began); took > redisCheckTimeout+time.Second {
			t.Errorf("--redis=%s: took %v", arg, took)
		}
		if code != 2 {
			t.Errorf("--redis=%s: exit status %d; want 2", arg, code)
		}
		if out != "" {
			t.Errorf("--redis=%s: stdout %q; want nothing", arg, out)
		}
		if want := "hoard demo: Redis at " + addr; !strings.HasPrefix(errs, want) ||
			!strings.Contains(errs, "does not answer") || strings.Count(errs, "\n") != 1 {
			t.Errorf("--redis=%s: stderr %q; want one line %q... does not answer ...", arg, errs, want)
		}
	}
	if redisLines.Len() > 0 {
		t.Errorf("go-redis logged:\n%s", redisLines.String())
	}
}

func TestUsageRedis(t *testing.T) {
	code, _, errs := runDemo(t, "--redis=ftp://127.0.0.1:6379")
	if code != 2 || !strings.Contains(errs, "--redis: not a host:port nor a redis:// or rediss:// URL") {
		t.Errorf("exit status %d, stderr %q; want 2 and the accepted forms", code, errs)
	}
}

// TestDemoRedisURL runs the demo in short mode on the real Redis at
// HOARD_REDIS_ADDR, given as a redis:// URL.
func TestDemoRedisURL(t *testing.T) {
	addr := os.Getenv("HOARD_REDIS_ADDR")
	if addr == "" {
		t.Skip("HOARD_REDIS_ADDR is not set")
	}
	if !strings.Contains(addr, "://") {
		addr = "redis://" + addr
	}
	var out, errb strings.Builder
	args := []string{"demo", "--redis=" + addr, "--db=", "--json",
		"--duration=300ms", "--instances=2", "--products=1000", "--writes=200"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit status %d; stdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), `"redis": "Redis at `) {
		t.Errorf("the report does not name the real Redis:\n%s", out.String())
	}
}
