package hoard

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// codecFuzzValue is the struct the Unmarshal fuzz targets decode into: the
// sample's fields plus the shapes whose decoding allocates by a claimed
// length (maps, slices of structs, interfaces, nested slices).
type codecFuzzValue struct {
	codecSample
	Extra  map[string]any
	Strs   map[string]string
	List   []codecNested
	Any    any
	Matrix [][]int16
	Fixed  [4]byte
	Ptrs   []*codecNested
}

// fuzzCompressOptions keep the inflated size of a fuzzed frame small, so
// that the allocation bound below holds for honest frames too.
var fuzzCompressOptions = &CompressOptions{Threshold: 64, MaxDecodedSize: 16 << 10}

func fuzzCodec(t testing.TB, name string) Codec {
	t.Helper()
	switch name {
	case "json":
		return JSON
	case "msgpack":
		return MsgPack
	}
	inner, _ := strings.CutSuffix(name, "+s2")
	c, err := Compressed(fuzzCodec(t, inner), fuzzCompressOptions)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addUnmarshalSeeds seeds f with valid encodings by c and hostile inputs.
func addUnmarshalSeeds(f *testing.F, c Codec) {
	v := codecFuzzValue{
		codecSample: newCodecSample(3),
		Extra:       map[string]any{"k": "v", "n": 1.5, "l": []any{"x", true}},
		Strs:        map[string]string{"a": "b"},
		List:        []codecNested{{1, "one"}, {2, "two"}},
		Any:         []any{map[string]any{"z": nil}},
		Matrix:      [][]int16{{1, 2}, {-3}},
		Fixed:       [4]byte{1, 2, 3, 4},
		Ptrs:        []*codecNested{nil, {3, "three"}},
	}
	for _, x := range []any{v, newCodecSample(0), newCodecSample(60), "str", 42, nil, []any{1, "a"}} {
		b, err := c.Marshal(x)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range msgpackHostile {
		f.Add(b)
		f.Add(append([]byte{frameRaw}, b...))
	}
	f.Add([]byte(`{"Extra":{"a":[[[[1]]]]},"List":[{"ID":1}]}`))
	f.Add([]byte{frameS2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00})
	f.Add([]byte{frameS2, 0x80, 0x80, 0x01, 0x00, 0x00})
}

// fuzzUnmarshal decodes data with c into a struct and into an interface, and
// fails unless it never panics, reports errors with ErrCorrupt or
// ErrTooLarge, and allocates at most 1 MiB per KiB of input.
func fuzzUnmarshal(t *testing.T, c Codec, data []byte) {
	limit := uint64(1<<20) * uint64(max(1, (len(data)+1023)/1024))
	for _, v := range []any{new(codecFuzzValue), new(any)} {
		before := heapAllocated()
		err := c.Unmarshal(data, v)
		allocated := heapAllocated() - before
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s into %T: err = %v, want one wrapping ErrCorrupt or ErrTooLarge", c.Name(), v, err)
		}
		if allocated > limit {
			t.Fatalf("%s into %T: %d bytes of input allocated %d bytes (err %v)", c.Name(), v, len(data), allocated, err)
		}
	}
}

func FuzzJSONUnmarshal(f *testing.F) {
	c := fuzzCodec(f, "json")
	addUnmarshalSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzUnmarshal(t, c, data) })
}

func FuzzMsgPackUnmarshal(f *testing.F) {
	c := fuzzCodec(f, "msgpack")
	addUnmarshalSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzUnmarshal(t, c, data) })
}

func FuzzCompressedJSONUnmarshal(f *testing.F) {
	c := fuzzCodec(f, "json+s2")
	addUnmarshalSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzUnmarshal(t, c, data) })
}

func FuzzCompressedMsgPackUnmarshal(f *testing.F) {
	c := fuzzCodec(f, "msgpack+s2")
	addUnmarshalSeeds(f, c)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzUnmarshal(t, c, data) })
}

// jsonString is s as JSON gives it back: each byte of invalid UTF-8 becomes
// U+FFFD.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

// FuzzCodecRoundTrip checks that every codec gives back the value it was
// given, for fuzzed field contents; rep repeats strings past the
// compression threshold.
func FuzzCodecRoundTrip(f *testing.F) {
	f.Add("widget", int64(-42), uint32(7), 0.25, true, []byte{0, 1, 0xff}, "key", int64(1709209845), uint32(123456789), uint8(2))
	f.Add("", int64(math.MinInt64), uint32(math.MaxUint32), math.Inf(-1), false, []byte{}, "", int64(-1), uint32(0), uint8(0))
	f.Add("\xff\xfeé", int64(math.MaxInt64), uint32(0), math.NaN(), true, []byte(nil), "\x00", int64(1<<40), uint32(999999999), uint8(200))
	f.Add(strings.Repeat("ab", 300), int64(1), uint32(1), math.Copysign(0, -1), false, make([]byte, 3000), "k", int64(-62135596800), uint32(0), uint8(9))
	// The Unmarshal targets' 16 KiB MaxDecodedSize would refuse large
	// values here; the default does not.
	codecs := []Codec{JSON, MsgPack}
	for _, inner := range []Codec{JSON, MsgPack} {
		c, err := Compressed(inner, &CompressOptions{Threshold: 64})
		if err != nil {
			f.Fatal(err)
		}
		codecs = append(codecs, c)
	}
	f.Fuzz(func(t *testing.T, name string, n int64, u uint32, ratio float64, ok bool, blob []byte, key string, sec int64, nsec uint32, rep uint8) {
		s := codecSample{
			Name:   name,
			Count:  int(n),
			Int64:  n,
			Uint:   u,
			Ratio:  ratio,
			OK:     ok,
			Blob:   blob,
			Nested: codecNested{ID: int(n >> 7), Note: key},
			Labels: map[string]int{key: int(u), name: -int(n)},
			At:     time.Unix(sec, int64(nsec%1e9)),
		}
		if len(name)*int(rep) > 64<<10 {
			rep = 1 // past the threshold already; keep executions quick
		}
		for i := range int(rep) {
			s.Tags = append(s.Tags, name+key[:min(i, len(key))])
		}
		if ok {
			s.Next = &codecNested{ID: int(u), Note: name}
		}
		for _, c := range codecs {
			want := s
			if strings.HasPrefix(c.Name(), "json") {
				if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
					continue // JSON has no NaN nor infinities: Marshal fails
				}
				if y := s.At.Year(); y < 0 || y > 9999 {
					continue // RFC 3339 has four-digit years: Marshal fails
				}
				var ok bool
				if want, ok = jsonSample(s); !ok {
					continue
				}
			}
			b, err := c.Marshal(want)
			if err != nil {
				t.Fatalf("%s: Marshal: %v", c.Name(), err)
			}
			var got codecSample
			if err := c.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: Unmarshal of its own encoding: %v", c.Name(), err)
			}
			checkSampleEqual(t, c.Name(), want, got)
		}
	})
}

// jsonSample is s with its strings as JSON gives them back, and false if
// two map keys become the same string on the way.
func jsonSample(s codecSample) (codecSample, bool) {
	s.Name = jsonString(s.Name)
	s.Nested.Note = jsonString(s.Nested.Note)
	labels := make(map[string]int, len(s.Labels))
	for k, v := range s.Labels {
		labels[jsonString(k)] = v
	}
	if len(labels) != len(s.Labels) {
		return s, false
	}
	s.Labels = labels
	tags := s.Tags
	s.Tags = nil
	for _, tag := range tags {
		s.Tags = append(s.Tags, jsonString(tag))
	}
	if s.Next != nil {
		s.Next = &codecNested{ID: s.Next.ID, Note: jsonString(s.Next.Note)}
	}
	return s, true
}
