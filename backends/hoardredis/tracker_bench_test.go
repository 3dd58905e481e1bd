package hoardredis_test

import (
	"context"
	"strconv"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// BenchmarkTracking measures what server-assisted tracking adds to a write
// made in Redis by a client that is not hoard's (redis-cli's stand-in), on
// the real Redis at HOARD_REDIS_ADDR:
//
//   - set: the baseline, the plain client's SET alone;
//   - set+dropped/instances=3: the same SET of a key that three instances
//     (three Services with Tracking) hold in memory, the operation ending
//     when every instance's tracker delivered the report (its Aside has
//     then dropped the key: see TestTrackingDropsOutsideWritesFromEveryInstance).
//
// ns/op of the second minus the first is the time from the write's reply
// to the last instance's drop.
func BenchmarkTracking(b *testing.B) {
	client := redistest.Real(b)
	app := randomApp(b)
	b.Cleanup(func() { redistest.DeleteUnder(b, client, app+":") })
	other := goredis.NewClient(&goredis.Options{Addr: client.Options().Addr})
	defer other.Close()
	ctx := context.Background()
	key := func(i int) string { return app + ":users:" + strconv.Itoa(i%1000) }

	b.Run("set", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := other.Set(ctx, key(i), "changed by hand", 0).Err(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	ins := trackedInstances(b, client, app, 3)
	b.Run("set+dropped/instances=3", func(b *testing.B) {
		i := 0
		for b.Loop() {
			k := key(i)
			if err := other.Set(ctx, k, "changed by hand", 0).Err(); err != nil {
				b.Fatal(err)
			}
			for _, in := range ins {
				waitEvent(b, in.events, hoard.Invalidation{Kind: hoard.InvalidateKey, Value: k})
			}
			i++
		}
	})
}
