package hoard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A background refresh that fails has no caller to tell: it is logged, at
// warning level, with the cache's name, the key and the error.
func TestFailedBackgroundRefreshIsLogged(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	w, r, src, d := earlyRig(t, hoard.AsideOptions[string]{Name: "logged", TTL: 2 * time.Minute, Logger: logger, EarlyRefresh: &hoard.EarlyRefresh{Beta: 2}})
	ctx := context.Background()
	if _, err := r.aside.Get(ctx, "k", src); err != nil {
		t.Fatal(err)
	}
	w.advance(99 * time.Second)
	src.failWith(errors.New("db down"))
	d.set(1 - 1e-7)
	if v, err := r.aside.Get(ctx, "k", src); v != "v1" || err != nil {
		t.Fatalf("Get = %q, %v; want the current v1", v, err)
	}
	waitBackground(t, r.aside)
	line := out.String()
	for _, want := range []string{"level=WARN", "background refresh failed", "cache=logged", "key=logged:k", "db down"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %q", line, want)
		}
	}
}
