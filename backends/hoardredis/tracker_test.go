package hoardredis_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// trackerEvents subscribes to tr and returns the channel its events go to.
func trackerEvents(t testing.TB, tr *hoardredis.Tracker) chan hoard.Invalidation {
	t.Helper()
	ch := make(chan hoard.Invalidation, 1024)
	unsubscribe := tr.Subscribe(func(events []hoard.Invalidation) {
		for _, ev := range events {
			ch <- ev
		}
	})
	t.Cleanup(unsubscribe)
	return ch
}

// newTracker starts a tracker on client for prefix and waits until it is
// ready.
func newTracker(t *testing.T, client goredis.UniversalClient, opts *hoardredis.TrackerOptions) *hoardredis.Tracker {
	t.Helper()
	tr, err := hoardredis.NewTracker(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return tr
}

// waitEvent waits for an event that matches want, skipping others, and
// returns the events it skipped.
func waitEvent(t testing.TB, ch chan hoard.Invalidation, want hoard.Invalidation) []hoard.Invalidation {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var skipped []hoard.Invalidation
	for {
		select {
		case ev := <-ch:
			if ev == want {
				return skipped
			}
			skipped = append(skipped, ev)
		case <-timeout:
			t.Fatalf("no %v %q within 10s; got %v", want.Kind, want.Value, skipped)
		}
	}
}

// TestTrackerReportsWritesOfAnotherClient: a SET and a DEL by a plain
// client (redis-cli's stand-in) of a key under the prefix reach the
// tracker as InvalidateKey; a key under an Ignore prefix does not, nor one
// outside the prefix.
func TestTrackerReportsWritesOfAnotherClient(t *testing.T) {
	client := redistest.Real(t)
	prefix := uniquePrefix(t)
	t.Cleanup(func() { redistest.DeleteUnder(t, client, prefix) })
	tr := newTracker(t, client, &hoardredis.TrackerOptions{Prefix: prefix, Ignore: []string{prefix + "lock:"}})
	ch := trackerEvents(t, tr)
	other := goredis.NewClient(&goredis.Options{Addr: client.Options().Addr})
	defer other.Close()
	ctx := context.Background()

	key := prefix + "user:1"
	if err := other.Set(ctx, prefix+"lock:user:1", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := other.Set(ctx, "elsewhere:"+prefix, "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := other.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key}) {
		if ev.Kind != hoard.InvalidateAll {
			t.Errorf("delivered %v %q, which is ignored or not under the prefix", ev.Kind, ev.Value)
		}
	}
	if err := other.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key})
	if st := tr.Stats(); st.Ignored == 0 || st.Nodes != 1 {
		t.Errorf("stats %+v: want an ignored key and one node", st)
	}
}

// trackingIDs returns the ids of the connections named name that track
// keys and are subscribed: a tracker's tracking connections take the
// client's name (CLIENT LIST shows no tracking prefix).
func trackingIDs(t *testing.T, client *goredis.Client, name string) []string {
	t.Helper()
	list, err := client.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == name && strings.Contains(f["flags"], "t") && f["sub"] == "1" {
			ids = append(ids, f["id"])
		}
	}
	return ids
}

// TestTrackerFlushesAndRecoversWhenKilled: CLIENT KILL of the tracking
// connection delivers an InvalidateAll, tracking is made again, and a
// later write is reported again.
func TestTrackerFlushesAndRecoversWhenKilled(t *testing.T) {
	base := redistest.Real(t)
	prefix := uniquePrefix(t)
	t.Cleanup(func() { redistest.DeleteUnder(t, base, prefix) })
	name := "trk-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	opts := *base.Options()
	opts.ClientName = name
	client := goredis.NewClient(&opts)
	defer client.Close()
	tr := newTracker(t, client, &hoardredis.TrackerOptions{Prefix: prefix})
	ch := trackerEvents(t, tr)
	ctx := context.Background()

	ids := trackingIDs(t, base, name)
	if len(ids) != 1 {
		t.Fatalf("tracking connections named %q: %v, want one", name, ids)
	}
	before := tr.Stats()
	if err := base.Do(ctx, "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateAll})
	// The flush of the new connection's confirmation follows: after it,
	// writes are reported again.
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().Connects <= before.Connects {
		if time.Now().After(deadline) {
			t.Fatalf("tracking not made again within 10s: %+v", tr.Stats())
		}
		waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateAll})
	}
	if got := trackingIDs(t, base, name); len(got) != 1 || got[0] == ids[0] {
		t.Fatalf("tracking connections after the kill: %v, want one new (killed %s)", got, ids[0])
	}
	key := prefix + "after"
	if err := base.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: key})
	if st := tr.Stats(); st.Lost != before.Lost+1 {
		t.Errorf("lost %d, want %d", st.Lost, before.Lost+1)
	}
}

// TestNewTrackerRefusesBadInput: what NewTracker refuses, each with an
// error wrapping hoard.ErrInvalidOption.
func TestNewTrackerRefusesBadInput(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"a": client.Options().Addr}})
	defer ring.Close()
	for name, tc := range map[string]struct {
		client goredis.UniversalClient
		opts   *hoardredis.TrackerOptions
	}{
		"nil client":       {nil, &hoardredis.TrackerOptions{Prefix: "p:"}},
		"nil *Client":      {(*goredis.Client)(nil), &hoardredis.TrackerOptions{Prefix: "p:"}},
		"ring":             {ring, &hoardredis.TrackerOptions{Prefix: "p:"}},
		"nil options":      {client, nil},
		"empty prefix":     {client, &hoardredis.TrackerOptions{}},
		"ignore outside":   {client, &hoardredis.TrackerOptions{Prefix: "p:", Ignore: []string{"q:"}}},
		"ignore all":       {client, &hoardredis.TrackerOptions{Prefix: "p:", Ignore: []string{"p:"}}},
		"ping too short":   {client, &hoardredis.TrackerOptions{Prefix: "p:", PingInterval: time.Millisecond}},
		"refresh negative": {client, &hoardredis.TrackerOptions{Prefix: "p:", RefreshInterval: -time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := hoardredis.NewTracker(tc.client, tc.opts)
			if !errors.Is(err, hoard.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "hoard:") {
				t.Errorf("NewTracker = %v, %v; want a hoard: error wrapping ErrInvalidOption", tr, err)
			}
		})
	}
}

// TestServiceTrackingNeedsServerSupport: a server without CLIENT TRACKING
// (miniredis) makes NewService with Tracking fail its start-up check,
// naming the tracking, within StartTimeout.
func TestServiceTrackingNeedsServerSupport(t *testing.T) {
	_, client := redistest.Miniredis(t)
	svc, err := hoardredis.NewService(context.Background(), client, "app", &hoardredis.ServiceOptions{
		Tracking: true, StartTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil {
		_ = svc.Close(context.Background())
		t.Fatal("NewService with Tracking on miniredis: no error")
	}
	if !errors.Is(err, hoard.ErrUnavailable) || !strings.Contains(err.Error(), "CLIENT TRACKING") {
		t.Errorf("NewService = %v; want ErrUnavailable naming CLIENT TRACKING", err)
	}
}
