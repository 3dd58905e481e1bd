package hoardredis

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard"
)

func TestBusMessageRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		h      busHeader
		events []hoard.Invalidation
	}{
		{busHeader{sender: "a", seq: 1}, []hoard.Invalidation{{Kind: hoard.InvalidateKey, Value: "k"}}},
		{busHeader{sender: strings.Repeat("i", maxInstanceID), seq: 1<<64 - 1, prevUS: 1<<64 - 1}, []hoard.Invalidation{
			{Kind: hoard.InvalidateKey, Value: ""},
			{Kind: hoard.InvalidatePrefix, Value: "user:"},
			{Kind: hoard.InvalidateTag, Value: "category:7"},
			{Kind: hoard.InvalidateNamespace, Value: "products"},
			{Kind: hoard.InvalidateAll},
			{Kind: hoard.InvalidateKey, Value: strings.Repeat("k", maxBusValueLen)},
		}},
	} {
		m := appendBusMessage(nil, &tc.h, tc.events)
		h, events, err := decodeBusMessage(string(m))
		if err != nil {
			t.Fatal(err)
		}
		if h != tc.h || !slices.Equal(events, tc.events) {
			t.Fatalf("decoded %+v %v, want %+v %v", h, events, tc.h, tc.events)
		}
	}
}

func TestBusMessageFormat(t *testing.T) {
	// The bytes documented in bus_message.go, so that a change of format
	// is a decision, with a new format byte.
	m := appendBusMessage(nil, &busHeader{sender: "ab", seq: 300, prevUS: 5},
		[]hoard.Invalidation{{Kind: hoard.InvalidateTag, Value: "t"}, {Kind: hoard.InvalidateAll}})
	want := []byte{busFormatV1, 2, 'a', 'b', 0xac, 0x02, 5, 2, byte(hoard.InvalidateTag), 1, 't', byte(hoard.InvalidateAll), 0}
	if !slices.Equal(m, want) {
		t.Fatalf("message % x, want % x", m, want)
	}
}

func TestBusMessageMalformed(t *testing.T) {
	valid := string(appendBusMessage(nil, &busHeader{sender: "a", seq: 1}, []hoard.Invalidation{{Kind: hoard.InvalidateKey, Value: "k"}}))
	for name, m := range map[string]string{
		"empty":              "",
		"format":             "\x02" + valid[1:],
		"zero id":            "\x01\x00\x01\x00\x01\x01\x01k",
		"id past end":        "\x01\x09ab",
		"seq 0":              "\x01\x01a\x00\x00\x01\x01\x01k",
		"seq overflow":       "\x01\x01a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00\x01\x01\x01k",
		"no prev":            "\x01\x01a\x01",
		"no events":          "\x01\x01a\x01\x00\x00",
		"count past end":     "\x01\x01a\x01\x00\x05\x01\x00",
		"huge count":         "\x01\x01a\x01\x00\xff\xff\xff\xff\x0f\x01\x00",
		"unknown kind":       "\x01\x01a\x01\x00\x01\x09\x00",
		"kind 0":             "\x01\x01a\x01\x00\x01\x00\x00",
		"value past end":     "\x01\x01a\x01\x00\x01\x01\x05k",
		"all with value":     "\x01\x01a\x01\x00\x01\x05\x01k",
		"trailing bytes":     valid + "x",
		"truncated":          valid[:len(valid)-1],
		"value over maximum": "\x01\x01a\x01\x00\x01\x01\x81\x80\x04" + strings.Repeat("k", maxBusValueLen+1),
	} {
		if _, _, err := decodeBusMessage(m); !errors.Is(err, hoard.ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCheckBusEvents(t *testing.T) {
	for _, tc := range []struct {
		ev   hoard.Invalidation
		want error
	}{
		{hoard.Invalidation{Kind: 0, Value: "k"}, hoard.ErrInvalidOption},
		{hoard.Invalidation{Kind: hoard.InvalidateAll + 1}, hoard.ErrInvalidOption},
		{hoard.Invalidation{Kind: hoard.InvalidateAll, Value: "x"}, hoard.ErrInvalidOption},
		{hoard.Invalidation{Kind: hoard.InvalidateKey, Value: strings.Repeat("k", maxBusValueLen+1)}, hoard.ErrTooLarge},
		{hoard.Invalidation{Kind: hoard.InvalidateKey, Value: strings.Repeat("k", maxBusValueLen)}, nil},
	} {
		if err := checkBusEvents([]hoard.Invalidation{tc.ev}); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%v: error %v, want %v", tc.ev.Kind, err, tc.want)
		}
	}
}

func FuzzDecodeBusMessage(f *testing.F) {
	f.Add(appendBusMessage(nil, &busHeader{sender: "a", seq: 1}, []hoard.Invalidation{{Kind: hoard.InvalidateKey, Value: "k"}}))
	f.Add(appendBusMessage(nil, &busHeader{sender: "0123456789abcdef0123456789abcdef", seq: 1 << 40, prevUS: 12345},
		[]hoard.Invalidation{{Kind: hoard.InvalidatePrefix, Value: "p:"}, {Kind: hoard.InvalidateTag, Value: "t"},
			{Kind: hoard.InvalidateNamespace, Value: "ns"}, {Kind: hoard.InvalidateAll}}))
	f.Add([]byte{busFormatV1, 1, 'a', 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{busFormatV1, 1, 'a', 1, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := string(b)
		var h busHeader
		var events []hoard.Invalidation
		var err error
		allocs := testing.AllocsPerRun(1, func() { h, events, err = decodeBusMessage(m) })
		if err != nil {
			if !errors.Is(err, hoard.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if allocs > 10 { // the events slice and the error: a constant
				t.Fatalf("%v allocations to refuse %d bytes", allocs, len(b))
			}
			return
		}
		// Bounded by the input: one slice of at most len/2 events.
		if allocs > 1 || cap(events) > len(b)/minBusEventLen {
			t.Fatalf("%v allocations, %d events of capacity for %d bytes", allocs, cap(events), len(b))
		}
		// What decodes encodes back to the same bytes, but for uvarints
		// that were not minimal.
		again, events2, err := decodeBusMessage(string(appendBusMessage(nil, &h, events)))
		if err != nil || again != h || !slices.Equal(events, events2) {
			t.Fatalf("re-encoding %+v %v: %+v %v %v", h, events, again, events2, err)
		}
		if checkBusEvents(events) != nil {
			t.Fatalf("decoded events that Publish would refuse: %v", events)
		}
	})
}
