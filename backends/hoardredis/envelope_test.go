package hoardredis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 123456789)
	for _, h := range []header{
		{},
		{flags: flagNegative, generation: 1, writtenAt: now.UnixNano()},
		{flags: flagTombstone, generation: ^uint64(0)},
		{generation: 42, writtenAt: now.UnixNano(), expiresAt: now.Add(time.Hour).UnixNano(),
			staleUntil: now.Add(2 * time.Hour).UnixNano(), loadDuration: int64(3 * time.Millisecond),
			tags: []string{"a", "", "product:{42}", string(make([]byte, maxTagLen))}, tagEpoch: 1_800_000_000_000_000},
	} {
		var payload []byte
		if h.flags == 0 {
			payload = []byte(`{"x":1}`)
		}
		b := appendEnvelope(nil, &h, payload)
		if len(b) > envelopeSize(&h, len(payload)) {
			t.Errorf("envelope of %d bytes exceeds envelopeSize %d", len(b), envelopeSize(&h, len(payload)))
		}
		got, gotPayload, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("decode(%+v): %v", h, err)
		}
		if got.flags != h.flags || got.generation != h.generation || got.writtenAt != h.writtenAt ||
			got.expiresAt != h.expiresAt || got.staleUntil != h.staleUntil ||
			got.loadDuration != h.loadDuration || !slices.Equal(got.tags, h.tags) || got.tagEpoch != h.tagEpoch {
			t.Errorf("decode = %+v; want %+v", got, h)
		}
		if !bytes.Equal(gotPayload, payload) {
			t.Errorf("payload = %q; want %q", gotPayload, payload)
		}
	}
}

// tombstone.lua tells an entry from other strings by the envelope's header
// length, format and flags, written out as numbers: they must be these.
func TestTombstoneScriptKnowsTheEnvelope(t *testing.T) {
	for _, want := range []string{
		fmt.Sprintf("string.len(cur) < %d", headerLen),
		fmt.Sprintf("string.byte(cur, 1) ~= %d", formatV1),
		fmt.Sprintf("string.byte(cur, 2) >= %d", knownFlags+1),
		fmt.Sprintf("math.floor(string.byte(cur, 2) / %d) %% 2 == 1", flagTombstone),
	} {
		if !strings.Contains(tombstoneSource, want) {
			t.Errorf("tombstone.lua lacks %q", want)
		}
	}
	if knownFlags&(knownFlags+1) != 0 {
		t.Errorf("knownFlags %#x are not the low bits: tombstone.lua's flags test is wrong", knownFlags)
	}
}

func TestEnvelopeGenerationOffset(t *testing.T) {
	// cas.lua reads the generation at bytes 3..10 (Lua counts from 1).
	b := appendEnvelope(nil, &header{generation: 0x0102030405060708}, nil)
	if got := b[genOffset : genOffset+8]; !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("generation bytes = %x", got)
	}
}

func TestEnvelopeRejectsCorrupt(t *testing.T) {
	valid := appendEnvelope(nil, &header{generation: 7, tags: []string{"t1", "t2"}}, []byte("payload"))
	cases := map[string][]byte{
		"empty":             nil,
		"short header":      valid[:headerLen-1],
		"unknown format":    append([]byte{9}, valid[1:]...),
		"unknown flag":      append([]byte{formatV1, 0x80}, valid[2:]...),
		"tag count huge":    append(append([]byte{}, valid[:headerLen]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"tag count zero":    append(append([]byte{}, valid[:headerLen]...), 0),
		"tag past the end":  append(append([]byte{}, valid[:headerLen]...), 1, 50, 'a'),
		"no tag epoch":      append(append([]byte{}, valid[:headerLen]...), 1, 1, 'a'),
		"tag varint broken": append(append([]byte{}, valid[:headerLen]...), 0x80),
		"tombstone payload": appendEnvelope(nil, &header{flags: flagTombstone}, []byte("x")),
		"negative payload":  appendEnvelope(nil, &header{flags: flagNegative}, []byte("x")),
	}
	for name, b := range cases {
		if _, _, err := decodeEnvelope(b); !errors.Is(err, hoard.ErrCorrupt) {
			t.Errorf("%s: err = %v; want hoard.ErrCorrupt", name, err)
		}
	}
}

func TestTimesOutsideInt64NanosClamp(t *testing.T) {
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := unixNano(far); got <= unixNano(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("unixNano(year 9999) = %d; want the maximum", got)
	}
	if unixNano(time.Time{}) != 0 || !fromUnixNano(0).IsZero() {
		t.Error("the zero time must travel as 0")
	}
}

// FuzzDecodeEnvelope feeds arbitrary bytes, as a hostile or broken server
// could return, to the decoder: it must never panic, must fail only with
// ErrCorrupt, must allocate no more than the input can justify, and what it
// accepts must encode back to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, &header{generation: 1}, []byte(`"v"`)))
	f.Add(appendEnvelope(nil, &header{flags: flagNegative, generation: 2, expiresAt: 5}, nil))
	f.Add(appendEnvelope(nil, &header{flags: flagTombstone, generation: 3}, nil))
	f.Add(appendEnvelope(nil, &header{generation: 4, tags: []string{"a", "bb"}}, []byte("{}")))
	f.Add([]byte{formatV1, flagTags})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h header
		var payload []byte
		var err error
		allocs := testing.AllocsPerRun(1, func() { h, payload, err = decodeEnvelope(b) })
		if err != nil {
			if !errors.Is(err, hoard.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if max := float64(len(h.tags) + 1); allocs > max {
			t.Fatalf("%v allocations for %d tags", allocs, len(h.tags))
		}
		tagBytes := 0
		for _, tag := range h.tags {
			tagBytes += len(tag)
		}
		if tagBytes > len(b) {
			t.Fatalf("decoded %d tag bytes from %d input bytes", tagBytes, len(b))
		}
		if again := appendEnvelope(nil, &h, payload); !bytes.Equal(again, b) {
			// Only non-minimal varints may differ; they must decode the same.
			h2, p2, err := decodeEnvelope(again)
			if err != nil || !slices.Equal(h2.tags, h.tags) || !bytes.Equal(p2, payload) || h2.generation != h.generation || h2.tagEpoch != h.tagEpoch {
				t.Fatalf("re-encoding changed the envelope: %x -> %x (%v)", b, again, err)
			}
		}
	})
}

// keptAt on an envelope's integer times agrees with hoard.Entry.IsKept on
// the times setMeta builds from them, at every edge: no expiry, no
// stale-until, times before 1970 and at the ends of the int64 range, and
// nows outside it (the zero time, the year 3000).
func TestKeptAtAgreesWithIsKept(t *testing.T) {
	base := time.Unix(1_800_000_000, 0).UnixNano()
	times := []int64{0, base - 1, base, base + 1, -base, -1, 1, math.MaxInt64, math.MinInt64 + 1}
	nows := []time.Time{{}, time.Unix(0, base-1), time.Unix(0, base), time.Unix(0, base+1),
		time.Unix(0, -base), time.Unix(0, 0), time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64+1),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()}
	for _, exp := range times {
		for _, stale := range times {
			h := header{expiresAt: exp, staleUntil: stale}
			var e hoard.Entry[int]
			setMeta(&e, &h)
			for _, now := range nows {
				if got, want := h.keptAt(nowNano(now)), e.IsKept(now); got != want {
					t.Errorf("expires %d, stale until %d, now %v: keptAt %v; IsKept %v", exp, stale, now, got, want)
				}
			}
		}
	}
}
