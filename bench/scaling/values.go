package scaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/backends/memory"
)

// The series of the value-size measurement.
const (
	VMemHit      = "hoard: hit, memory tier"
	VOtter       = "otter GetIfPresent"
	VRedisHit    = "hoard: hit, Redis (JSON)"
	VRedisHitS2  = "hoard: hit, Redis (JSON + S2)"
	VRawGet      = "GET + json.Unmarshal"
	VMiss        = "hoard: miss + write-back (JSON)"
	VMissS2      = "hoard: miss + write-back (JSON + S2)"
	VNaiveMiss   = "naive miss: GET, json.Marshal, SET"
	VGetMany     = "hoard: GetMany from Redis (JSON)"
	VGetManyS2   = "hoard: GetMany from Redis (JSON + S2)"
	VMGet        = "MGET + json.Unmarshal each"
	codecJSON    = "JSON"
	codecJSONS2  = "JSON + S2"
	valuesBatch  = 10
	valuesTTL    = time.Hour
	missCleanupN = 64
)

// ValuesPoint is the measurement at one value size.
type ValuesPoint struct {
	Size   int            // bytes of the value as JSON
	Stored map[string]int // bytes Redis holds per entry, by codec
	NS     map[string]Sample
}

var errMissed = errors.New("scaling: a read that should hit missed")

// valuesAt measures every series at one value size.
func valuesAt(ctx context.Context, env *Env, size, rounds int, benchtime time.Duration) (*ValuesPoint, error) {
	p := &ValuesPoint{Size: size, Stored: map[string]int{}, NS: map[string]Sample{}}
	prefix := env.Prefix + "v" + strconv.Itoa(size) + ":"
	client := env.Client()
	doc := makeDoc("d", size)
	loadDoc := hoard.LoaderFunc[Doc](func(_ context.Context, id string) (Doc, error) { return Doc{ID: id, Body: doc.Body}, nil })
	never := hoard.LoaderFunc[Doc](func(context.Context, string) (Doc, error) { return Doc{}, errMissed })
	loadMany := hoard.BatchLoaderFunc[Doc](func(_ context.Context, ids []string) (map[string]Doc, error) {
		out := make(map[string]Doc, len(ids))
		for _, id := range ids {
			out[id] = Doc{ID: id, Body: doc.Body}
		}
		return out, nil
	})
	s2, err := hoard.Compressed(hoard.JSON, &hoard.CompressOptions{Threshold: 1})
	if err != nil {
		return nil, err
	}
	codecs := map[string]hoard.Codec{codecJSON: hoard.JSON, codecJSONS2: s2}

	// memory hit, against otter
	mem, err := memory.New(&memory.Options[Doc]{MaxEntries: 1000})
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	memAside, err := hoard.NewAside(&hoard.AsideOptions[Doc]{Name: prefix + "mem", Memory: mem, TTL: valuesTTL})
	if err != nil {
		return nil, err
	}
	if _, err := memAside.Get(ctx, "d", loadDoc); err != nil {
		return nil, err
	}
	oc := otter.Must(&otter.Options[string, Doc]{MaximumSize: 1000, ExpiryCalculator: otter.ExpiryWriting[string, Doc](valuesTTL)})
	defer oc.StopAllGoroutines()
	oc.Set(prefix+"d", doc)

	// Redis hits and GetMany, per codec, against raw GET / MGET
	ids := make([]string, valuesBatch)
	rawKeys := make([]string, valuesBatch)
	for i := range ids {
		ids[i] = "d" + strconv.Itoa(i)
		rawKeys[i] = prefix + "raw:" + ids[i]
		b, _ := json.Marshal(Doc{ID: ids[i], Body: doc.Body})
		if err := client.Set(ctx, rawKeys[i], b, valuesTTL).Err(); err != nil {
			return nil, err
		}
	}
	shared := map[string]*hoard.Aside[Doc]{}
	missing := map[string]*hoard.Aside[Doc]{}
	for name, codec := range codecs {
		rc, err := hoardredis.New[Doc](client, &hoardredis.Options{Codec: codec, MaxValueBytes: 4 << 20})
		if err != nil {
			return nil, err
		}
		a, err := hoard.NewAside(&hoard.AsideOptions[Doc]{Name: prefix + "shared-" + slug(name), Shared: rc, TTL: valuesTTL})
		if err != nil {
			return nil, err
		}
		if _, err := a.GetMany(ctx, ids, loadMany); err != nil {
			return nil, err
		}
		n, err := client.StrLen(ctx, a.Key(ids[0])).Result()
		if err != nil {
			return nil, err
		}
		p.Stored[name] = int(n)
		shared[name] = a
		m, err := memory.New(&memory.Options[Doc]{MaxEntries: 1000})
		if err != nil {
			return nil, err
		}
		defer m.Close()
		if missing[name], err = hoard.NewAside(&hoard.AsideOptions[Doc]{Name: prefix + "miss-" + slug(name), Memory: m, Shared: rc, TTL: valuesTTL}); err != nil {
			return nil, err
		}
	}

	benches := []bench{
		{VMemHit, func(b *testing.B) error { return loop(b, func() error { return hit(memAside.Get(ctx, "d", never)) }) }},
		{VOtter, func(b *testing.B) error {
			return loop(b, func() error {
				if _, ok := oc.GetIfPresent(prefix + "d"); !ok {
					return errMissed
				}
				return nil
			})
		}},
		{VRedisHit, func(b *testing.B) error {
			return loop(b, func() error { return hit(shared[codecJSON].Get(ctx, ids[0], never)) })
		}},
		{VRedisHitS2, func(b *testing.B) error {
			return loop(b, func() error { return hit(shared[codecJSONS2].Get(ctx, ids[0], never)) })
		}},
		{VRawGet, func(b *testing.B) error {
			return loop(b, func() error {
				s, err := client.Get(ctx, rawKeys[0]).Bytes()
				if err != nil {
					return err
				}
				var d Doc
				return json.Unmarshal(s, &d)
			})
		}},
		{VMiss, missBench(ctx, client, prefix+"m1:", func(id string) error { return hit(missing[codecJSON].Get(ctx, id, loadDoc)) }, missing[codecJSON])},
		{VMissS2, missBench(ctx, client, prefix+"m2:", func(id string) error { return hit(missing[codecJSONS2].Get(ctx, id, loadDoc)) }, missing[codecJSONS2])},
		{VNaiveMiss, missBench(ctx, client, prefix+"m3:", func(key string) error {
			if err := client.Get(ctx, key).Err(); !errors.Is(err, goredis.Nil) {
				return fmt.Errorf("naive miss found %q: %w", key, err)
			}
			b, err := json.Marshal(Doc{ID: key, Body: doc.Body})
			if err != nil {
				return err
			}
			return client.Set(ctx, key, b, valuesTTL).Err()
		}, nil)},
		{VGetMany, func(b *testing.B) error {
			return loop(b, func() error { return many(shared[codecJSON].GetMany(ctx, ids, never2)) })
		}},
		{VGetManyS2, func(b *testing.B) error {
			return loop(b, func() error { return many(shared[codecJSONS2].GetMany(ctx, ids, never2)) })
		}},
		{VMGet, func(b *testing.B) error {
			return loop(b, func() error {
				vals, err := client.MGet(ctx, rawKeys...).Result()
				if err != nil {
					return err
				}
				for _, v := range vals {
					s, ok := v.(string)
					if !ok {
						return errMissed
					}
					var d Doc
					if err := json.Unmarshal([]byte(s), &d); err != nil {
						return err
					}
				}
				return nil
			})
		}},
	}
	samples, err := measure(rounds, benchtime, benches...)
	if err != nil {
		return nil, fmt.Errorf("value size %d: %w", size, err)
	}
	for i, bn := range benches {
		p.NS[bn.name] = samples[i]
	}
	return p, nil
}

var never2 = hoard.BatchLoaderFunc[Doc](func(context.Context, []string) (map[string]Doc, error) { return nil, errMissed })

// loop runs op b.N times, stopping at its first error.
func loop(b *testing.B, op func() error) error {
	for b.Loop() {
		if err := op(); err != nil {
			return err
		}
	}
	return nil
}

func hit(_ Doc, err error) error { return err }

func many(m map[string]Doc, err error) error {
	if err == nil && len(m) != valuesBatch {
		return fmt.Errorf("%d of %d values: %w", len(m), valuesBatch, errMissed)
	}
	return err
}

// missBench reads a new id (or, without an Aside, key) on every op, and
// deletes the keys it made every missCleanupN ops, the clock stopped, so
// that Redis does not fill up with large values.
func missBench(ctx context.Context, client *goredis.Client, prefix string, op func(id string) error, a *hoard.Aside[Doc]) func(b *testing.B) error {
	i := 0 // across runs: every op reads an id never read before
	return func(b *testing.B) error {
		var made []string
		for b.Loop() {
			id := strconv.Itoa(i)
			key := prefix + id
			if a == nil {
				id = key
			}
			if err := op(id); err != nil {
				return err
			}
			if a != nil {
				key = a.Key(id)
			}
			made = append(made, key)
			i++
			if len(made) == missCleanupN {
				b.StopTimer()
				if err := client.Unlink(ctx, made...).Err(); err != nil {
					return err
				}
				made = made[:0]
				b.StartTimer()
			}
		}
		if len(made) > 0 {
			return client.Unlink(ctx, made...).Err()
		}
		return nil
	}
}

// slug makes a name a key part.
func slug(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}
