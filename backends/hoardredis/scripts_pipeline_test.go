package hoardredis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// scriptLog records the script commands a client sends: "evalsha" or
// "eval", one per command.
type scriptLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *scriptLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (l *scriptLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error { l.add(cmd); return next(ctx, cmd) }
}
func (l *scriptLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}

func (l *scriptLog) add(c goredis.Cmder) {
	if n := strings.ToLower(c.Name()); n == "eval" || n == "evalsha" {
		l.mu.Lock()
		l.cmds = append(l.cmds, n)
		l.mu.Unlock()
	}
}

func (l *scriptLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.cmds
	l.cmds = nil
	return out
}

// A pipeline of compare-and-sets (or tombstones) sends each script by its
// SHA; only a server that lacks the script (new, restarted, flushed) gets
// its source, once per command it refused, and then has it (issue 15: the
// source of cas.lua, sent with every key, outweighed small entries).
func TestPipelinedScriptsSendTheSourceOnlyWhenMissing(t *testing.T) {
	_, client := redistest.Miniredis(t)
	log := &scriptLog{}
	client.AddHook(log)
	ctx := context.Background()
	c, err := hoardredis.New[string](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := hoard.Entry[string]{Value: "v", ExpiresAt: time.Now().Add(time.Hour)}
	write := func(keys ...string) {
		t.Helper()
		writes := make([]hoard.TokenWrite[string], len(keys))
		for i, k := range keys {
			_, tok, err := c.GetWithToken(ctx, k)
			if err != nil && !errors.Is(err, hoard.ErrNotFound) {
				t.Fatal(err)
			}
			writes[i] = hoard.TokenWrite[string]{Key: k, Token: tok, Entry: e}
		}
		if err := c.CompareAndSetMany(ctx, writes); err != nil {
			t.Fatalf("CompareAndSetMany: %v", err)
		}
		for _, k := range keys {
			if got, err := c.Get(ctx, k); err != nil || got.Value != "v" {
				t.Fatalf("Get(%q) = %q, %v", k, got.Value, err)
			}
		}
	}
	write("a", "b", "c")
	if got := log.take(); strings.Join(got, ",") != "evalsha,evalsha,evalsha,eval,eval,eval" {
		t.Errorf("first batch on a server without the script: %v; want 3 EVALSHA refused, then 3 EVAL", got)
	}
	write("d", "e")
	if got := log.take(); strings.Join(got, ",") != "evalsha,evalsha" {
		t.Errorf("second batch: %v; want EVALSHA only", got)
	}
	write("f")
	log.take()
	if err := client.ScriptFlush(ctx).Err(); err != nil { // miniredis: never a shared server
		t.Fatal(err)
	}
	if n, err := c.DeletePrefix(ctx, "f"); err != nil || n != 1 {
		t.Fatalf("DeletePrefix after SCRIPT FLUSH = %d, %v; want 1", n, err)
	}
	if got := log.take(); strings.Join(got, ",") != "evalsha,eval" {
		t.Errorf("tombstones after SCRIPT FLUSH: %v; want EVALSHA refused, then EVAL", got)
	}
	if _, err := c.Get(ctx, "f"); !errors.Is(err, hoard.ErrNotFound) {
		t.Fatalf("Get after DeletePrefix: %v; want ErrNotFound", err)
	}
}
