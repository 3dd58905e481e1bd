package hoardredis

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// A second subscription confirmation on one PubSub is how a reconnect that
// go-redis made on its own, without returning an error, shows: the bus
// flushes for it. Subscribing the PubSub again makes Redis confirm again.
func TestBusSecondConfirmationFlushes(t *testing.T) {
	_, client := redistest.Miniredis(t)
	b, err := NewBus(client, &BusOptions{Channel: "c", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	defer b.Close(ctx)
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan []hoard.Invalidation, 1)
	b.Subscribe(func(events []hoard.Invalidation) { got <- events })

	b.psMu.Lock()
	err = b.ps.Subscribe(ctx, "c")
	b.psMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case events := <-got:
		if len(events) != 1 || events[0].Kind != hoard.InvalidateAll {
			t.Fatalf("received %v, want a flush", events)
		}
	case <-ctx.Done():
		t.Fatal("no flush after a second confirmation")
	}
	if st := b.Stats(); st.Reconnects != 1 || st.Flushes != 1 {
		t.Errorf("stats %+v", st)
	}
}

// While the subscription is down, the bus tries again at least every
// MaxStaleness/4 (between busMinBackoff and busMaxBackoff), so an instance
// whose subscription broke in an outage is not deaf for a whole
// busMaxBackoff after Redis is back.
func TestBusRetryCap(t *testing.T) {
	for _, c := range []struct {
		staleness, want time.Duration
	}{
		{time.Second, 250 * time.Millisecond}, // the default MaxStaleness
		{20 * time.Millisecond, busMinBackoff},
		{time.Minute, busMaxBackoff},
		{-1, busMaxBackoff}, // no outage flushes
	} {
		b := &Bus{opts: BusOptions{MaxStaleness: c.staleness}}
		if got := b.retryCap(); got != c.want {
			t.Errorf("MaxStaleness %v: retry cap %v, want %v", c.staleness, got, c.want)
		}
	}
}
