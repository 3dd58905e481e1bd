package hoard

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

// codecSample has a field of every kind a cached value commonly holds.
type codecSample struct {
	Name    string
	Count   int
	Int64   int64
	Uint    uint32
	Ratio   float64
	OK      bool
	Blob    []byte
	Nested  codecNested
	Labels  map[string]int
	Tags    []string
	At      time.Time
	Next    *codecNested
	Missing *codecNested
}

type codecNested struct {
	ID   int
	Note string
}

// newCodecSample returns a sample with n tags: 253 bytes of JSON and 157 of
// msgpack for n = 0, 8185 bytes of JSON and 7084 of msgpack for n = 505.
func newCodecSample(n int) codecSample {
	s := codecSample{
		Name:   "widget",
		Count:  -42,
		Int64:  1 << 40,
		Uint:   7,
		Ratio:  0.25,
		OK:     true,
		Blob:   []byte{0, 1, 2, 0xff},
		Nested: codecNested{ID: 9, Note: "inner"},
		Labels: map[string]int{"a": 1, "b": 2},
		At:     time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.UTC),
		Next:   &codecNested{ID: 10, Note: "next"},
	}
	for i := range n {
		s.Tags = append(s.Tags, fmt.Sprintf("tag:%d:%x", i, i*2654435761%1000003))
	}
	return s
}

// codecCodecs returns the codecs under test, by name.
func codecCodecs(t testing.TB) []Codec {
	t.Helper()
	cs := []Codec{JSON, MsgPack}
	for _, inner := range []Codec{JSON, MsgPack} {
		c, err := Compressed(inner, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// checkSampleEqual fails t unless got holds what want held, comparing times
// with Equal (codecs do not keep the location) and floats bit for bit.
func checkSampleEqual(t testing.TB, codec string, want, got codecSample) {
	t.Helper()
	if !got.At.Equal(want.At) {
		t.Errorf("%s: At = %v, want %v", codec, got.At, want.At)
	}
	if math.Float64bits(got.Ratio) != math.Float64bits(want.Ratio) {
		t.Errorf("%s: Ratio = %v, want %v", codec, got.Ratio, want.Ratio)
	}
	if !bytes.Equal(got.Blob, want.Blob) {
		t.Errorf("%s: Blob = %q, want %q", codec, got.Blob, want.Blob)
	}
	got.At, want.At = time.Time{}, time.Time{}
	got.Ratio, want.Ratio = 0, 0
	got.Blob, want.Blob = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: round trip\n got %+v\nwant %+v", codec, got, want)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range codecCodecs(t) {
		for _, n := range []int{0, 2, 300} {
			t.Run(fmt.Sprintf("codec=%s/tags=%d", c.Name(), n), func(t *testing.T) {
				want := newCodecSample(n)
				b, err := c.Marshal(want)
				if err != nil {
					t.Fatal(err)
				}
				var got codecSample
				if err := c.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				checkSampleEqual(t, c.Name(), want, got)
				if got.Missing != nil {
					t.Errorf("Missing = %+v, want nil", got.Missing)
				}
			})
		}
	}
}

func TestCodecRoundTripScalars(t *testing.T) {
	for _, c := range codecCodecs(t) {
		for _, want := range []any{"", "héllo", int64(math.MinInt64), uint64(math.MaxUint64), true, []byte{}, []string{"a"}} {
			b, err := c.Marshal(want)
			if err != nil {
				t.Fatalf("%s: Marshal(%#v): %v", c.Name(), want, err)
			}
			got := reflect.New(reflect.TypeOf(want))
			if err := c.Unmarshal(b, got.Interface()); err != nil {
				t.Fatalf("%s: Unmarshal(%#v): %v", c.Name(), want, err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), want) {
				t.Errorf("%s: got %#v, want %#v", c.Name(), got.Elem().Interface(), want)
			}
		}
	}
}

func TestMsgPackIntoInterface(t *testing.T) {
	b, err := MsgPack.Marshal(map[string]any{
		"s": "x", "i": 300, "neg": -1, "f": 1.5, "b": []byte("raw"), "l": []any{true, nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := MsgPack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"s": "x", "i": uint16(300), "neg": int8(-1), "f": 1.5, "b": []byte("raw"), "l": []any{true, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

func TestMsgPackJSONTags(t *testing.T) {
	type tagged struct {
		ID     int    `json:"id"`
		Secret string `json:"-"`
		Empty  string `json:"empty,omitempty"`
		Both   string `json:"j" msgpack:"m"`
	}
	b, err := MsgPack.Marshal(tagged{ID: 1, Secret: "s", Both: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := MsgPack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"id": int8(1), "m": "x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("encoded fields %v, want %v", got, want)
	}
}

// TestCodecUnmarshalCopies checks that Unmarshal keeps no part of data:
// mutating the input afterwards changes nothing already decoded.
func TestCodecUnmarshalCopies(t *testing.T) {
	type holder struct {
		S string
		B []byte
		M map[string][]byte
		A any
		L []any
	}
	want := holder{
		S: strings.Repeat("s", 40),
		B: bytes.Repeat([]byte("b"), 40),
		M: map[string][]byte{strings.Repeat("k", 40): bytes.Repeat([]byte("v"), 40)},
		A: bytes.Repeat([]byte("a"), 40),
		L: []any{strings.Repeat("l", 40)},
	}
	for _, c := range codecCodecs(t) {
		for _, size := range []int{40, 2000} { // both sides of the threshold
			want.S = strings.Repeat("s", size)
			b, err := c.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var got holder
			if err := c.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			snapshot := fmt.Sprintf("%v", got)
			for i := range b {
				b[i] = '!'
			}
			// Decode something else, to reuse any pooled buffer.
			var other holder
			_ = c.Unmarshal(mustMarshal(t, c, holder{S: strings.Repeat("z", size), B: []byte("zz")}), &other)
			if after := fmt.Sprintf("%v", got); after != snapshot {
				t.Errorf("%s: decoded value changed with its input:\n before %.200s\n after %.200s", c.Name(), snapshot, after)
			}
		}
	}
}

func mustMarshal(t testing.TB, c Codec, v any) []byte {
	t.Helper()
	b, err := c.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCodecMarshalError(t *testing.T) {
	for _, c := range codecCodecs(t) {
		_, err := c.Marshal(make(chan int))
		if err == nil || !strings.HasPrefix(err.Error(), "hoard: ") {
			t.Errorf("%s: Marshal(chan) = %v, want a hoard: error", c.Name(), err)
		}
	}
	if _, err := MsgPack.Marshal(make(chan int)); err == nil || !strings.HasPrefix(err.Error(), "hoard: msgpack marshal: ") {
		t.Errorf("MsgPack: Marshal(chan) = %v", err)
	}
}

// heapAllocated returns the bytes allocated so far by the whole program.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// msgpackHostile are inputs whose headers claim far more than they hold.
var msgpackHostile = map[string][]byte{
	"str32 4GiB":       {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd', 'e'},
	"bin32 4GiB":       {0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5},
	"ext32 4GiB":       {0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
	"array32 4G":       {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5},
	"array16 64K":      {0xdc, 0xff, 0xff, 1, 2, 3},
	"map32 4G":         {0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5},
	"map16 64K":        {0xde, 0xff, 0xff, 1, 2, 3},
	"fixarray short":   {0x9f, 1, 2},
	"fixmap half":      {0x81, 0xa1, 'k'},
	"nested bin32":     {0x91, 0x81, 0xa1, 'B', 0xc6, 0x7f, 0xff, 0xff, 0xff, 1},
	"str8 short":       {0xd9, 0x10, 'a'},
	"reserved c1":      {0xc1},
	"empty":            {},
	"trailing":         {0x01, 0x02},
	"truncated length": {0xdb, 0xff},
	"ext no type":      {0xd4},
	// Decoding a map, msgpack/v5 skips an extension header and reads the
	// map from the extension payload: here a map32 claiming 4G entries.
	"ext-prefixed map": {0x81, 0xa5, 'E', 'x', 't', 'r', 'a', 0xd7, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0},
}

type msgpackHostileTarget struct {
	Extra map[string]any
	Str   map[string]string
	Typed map[string]int
	List  []codecNested
	B     []byte
	S     string
}

func TestMsgPackHostileLengths(t *testing.T) {
	for name, data := range msgpackHostile {
		for _, v := range []any{new(any), new(msgpackHostileTarget), new(map[string]any), new([]any), new(string), new([]byte), new([]int)} {
			before := heapAllocated()
			err := MsgPack.Unmarshal(data, v)
			allocated := heapAllocated() - before
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s into %T: err = %v, want ErrCorrupt", name, v, err)
			}
			if allocated > 64<<10 {
				t.Errorf("%s into %T: allocated %d bytes", name, v, allocated)
			}
		}
	}
}

// TestMsgPackExtPayloadGuard checks the one case the length check alone
// misses: a map destination reading its map from an extension payload that
// holds valid, tiny claims still fails, while a real time extension decodes.
func TestMsgPackExtPayloadGuard(t *testing.T) {
	// {"Extra": fixext4(type 1, payload: fixmap{"k": 1} padded)}
	data := []byte{0x81, 0xa5, 'E', 'x', 't', 'r', 'a', 0xd6, 0x01, 0x81, 0xa1, 'k', 0x01}
	var v msgpackHostileTarget
	if err := MsgPack.Unmarshal(data, &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ext-prefixed map: err = %v, want ErrCorrupt", err)
	}
	// The same extension decoded into an interface is an unknown extension.
	var a any
	if err := MsgPack.Unmarshal(data, &a); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown extension: err = %v, want ErrCorrupt", err)
	}
	// Times are extensions whose payload may start with a map code.
	at := time.Unix(1, 0x3c<<24) // 8-byte form: payload starts with 0xf0
	for _, tm := range []time.Time{at, time.Unix(1<<35, 5), time.Unix(0xde<<24, 0), {}} {
		b := mustMarshal(t, MsgPack, map[string]time.Time{"t": tm})
		var got map[string]time.Time
		if err := MsgPack.Unmarshal(b, &got); err != nil || !got["t"].Equal(tm) {
			t.Errorf("time %v: got %v, %v", tm, got["t"], err)
		}
	}
}

func TestMsgPackDepth(t *testing.T) {
	nested := func(depth int) []byte {
		b := bytes.Repeat([]byte{0x91}, depth)
		return append(b, 0xc0)
	}
	var v any
	if err := MsgPack.Unmarshal(nested(msgpackMaxDepth), &v); err != nil {
		t.Errorf("depth %d: %v", msgpackMaxDepth, err)
	}
	if err := MsgPack.Unmarshal(nested(msgpackMaxDepth+1), &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("depth %d: err = %v, want ErrCorrupt", msgpackMaxDepth+1, err)
	}
	// Deep input is refused before decoding, so it never reaches the
	// decoder's recursion.
	if err := MsgPack.Unmarshal(nested(1<<20), &v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("depth 1Mi: err = %v, want ErrCorrupt", err)
	}
}

// checkCorruptErr fails t unless err is nil or wraps ErrCorrupt or
// ErrTooLarge.
func checkCorruptErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
		t.Errorf("%s: err = %v, want one wrapping ErrCorrupt or ErrTooLarge", what, err)
	}
}

func TestCodecCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range codecCodecs(t) {
		for _, n := range []int{2, 300} {
			valid := mustMarshal(t, c, newCodecSample(n))
			// Every proper prefix is an error.
			for i := range len(valid) {
				var v codecSample
				err := c.Unmarshal(valid[:i:i], &v)
				if err == nil {
					t.Fatalf("%s: prefix of %d of %d bytes decoded", c.Name(), i, len(valid))
				}
				checkCorruptErr(t, c.Name()+" truncated", err)
			}
			// A flipped bit is an error or a value, never a panic.
			for range 2000 {
				b := bytes.Clone(valid)
				i := rng.IntN(len(b))
				b[i] ^= 1 << rng.IntN(8)
				var v codecSample
				checkCorruptErr(t, c.Name()+" bit flip", c.Unmarshal(b, &v))
				var a any
				checkCorruptErr(t, c.Name()+" bit flip into any", c.Unmarshal(b, &a))
			}
		}
	}
}

func TestCompressedFrames(t *testing.T) {
	c, err := Compressed(MsgPack, nil)
	if err != nil {
		t.Fatal(err)
	}
	small := mustMarshal(t, c, newCodecSample(2))
	large := mustMarshal(t, c, newCodecSample(300))
	// The raw frame holds the plain msgpack encoding. Compare decoded
	// values, not bytes: the sample holds maps, which msgpack writes in Go's
	// random iteration order.
	var plain codecSample
	if small[0] != frameRaw {
		t.Errorf("small value: frame %x, want 0", small[:1])
	} else if err := MsgPack.Unmarshal(small[1:], &plain); err != nil {
		t.Errorf("small value: the raw frame is not plain msgpack: %v", err)
	} else {
		checkSampleEqual(t, "raw frame", newCodecSample(2), plain)
	}
	inner := mustMarshal(t, MsgPack, newCodecSample(300))
	if large[0] != frameS2 || len(large) > len(inner)*9/10 {
		t.Errorf("large value: header %d, %d bytes for %d of msgpack; want 1 and a tenth less", large[0], len(large), len(inner))
	}
	t.Logf("msgpack %d bytes, msgpack+s2 %d bytes", len(inner), len(large))

	var v codecSample
	for name, data := range map[string][]byte{
		"empty":            {},
		"header 2":         append([]byte{2}, small[1:]...),
		"header 0xff":      append([]byte{0xff}, small[1:]...),
		"raw header on s2": append([]byte{frameRaw}, large[1:]...),
		"s2 no length":     {frameS2},
		"s2 bad varint":    {frameS2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if err := c.Unmarshal(data, &v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	// msgpack bytes read as an S2 block.
	err = c.Unmarshal(append([]byte{frameS2}, small[1:]...), &v)
	if err == nil {
		t.Errorf("s2 header on raw: decoded")
	}
	checkCorruptErr(t, "s2 header on raw", err)
}

// s2WithLength returns block with its decoded length replaced by n.
func s2WithLength(t *testing.T, block []byte, n uint64) []byte {
	t.Helper()
	_, l := uvarint(block)
	out := appendUvarint([]byte{frameS2}, n)
	return append(out, block[l:]...)
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

func appendUvarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// TestCompressedLyingLength checks frames whose S2 block claims a decoded
// length it does not hold.
func TestCompressedLyingLength(t *testing.T) {
	c, err := Compressed(JSON, &CompressOptions{MaxDecodedSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	frame := mustMarshal(t, c, newCodecSample(300))
	block := frame[1:]
	n, err := s2.DecodedLen(block)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		claim uint64
		want  error
	}{
		{1<<32 - 1, ErrTooLarge},    // 4 GiB: refused before allocating
		{1<<20 + 1, ErrTooLarge},    // just over MaxDecodedSize
		{1 << 20, ErrCorrupt},       // allowed, but the block holds less
		{uint64(n) + 1, ErrCorrupt}, // one byte more than it holds
		{uint64(n) - 1, ErrCorrupt}, // one byte less
		{0, ErrCorrupt},             // nothing, yet ops follow
		{1 << 40, ErrCorrupt},       // not a valid S2 length at all
	} {
		data := s2WithLength(t, block, tc.claim)
		var v codecSample
		before := heapAllocated()
		err := c.Unmarshal(data, &v)
		allocated := heapAllocated() - before
		if !errors.Is(err, tc.want) {
			t.Errorf("claim %d: err = %v, want %v", tc.claim, err, tc.want)
		}
		// Bounded by MaxDecodedSize (1 MiB here), whatever the claim: a
		// 4 GiB claim allocates nothing like it. Twice the bound leaves room
		// for size-class rounding and the runtime's own allocations.
		if allocated > 2<<20 {
			t.Errorf("claim %d: allocated %d bytes, over twice MaxDecodedSize", tc.claim, allocated)
		}
	}
}

// bytesCodec passes []byte through, so tests control the inner encoding.
type bytesCodec struct{}

func (bytesCodec) Name() string { return "bytes" }

func (bytesCodec) Marshal(v any) ([]byte, error) { return bytes.Clone(v.([]byte)), nil }

func (bytesCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = bytes.Clone(data)
	return nil
}

func TestCompressedThreshold(t *testing.T) {
	c, err := Compressed(bytesCodec{}, &CompressOptions{Threshold: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value  []byte
		header byte
	}{
		{bytes.Repeat([]byte("a"), 99), frameRaw},
		{bytes.Repeat([]byte("a"), 100), frameS2},
		{bytes.Repeat([]byte("a"), 100000), frameS2},
		{[]byte{}, frameRaw},
		{randomBytes(100), frameRaw}, // incompressible: stored raw
		{randomBytes(5000), frameRaw},
	} {
		b := mustMarshal(t, c, tc.value)
		if b[0] != tc.header {
			t.Errorf("%d bytes: header %d, want %d", len(tc.value), b[0], tc.header)
		}
		if tc.header == frameRaw && len(b) != 1+len(tc.value) {
			t.Errorf("%d bytes stored raw in %d", len(tc.value), len(b))
		}
		var got []byte
		if err := c.Unmarshal(b, &got); err != nil || !bytes.Equal(got, tc.value) {
			t.Errorf("%d bytes: round trip gave %d bytes, %v", len(tc.value), len(got), err)
		}
	}
	if b := mustMarshal(t, c, bytes.Repeat([]byte("a"), 100000)); len(b) > 5000 {
		t.Errorf("100000 repeated bytes compressed to %d", len(b))
	}
}

func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestCompressedMaxDecodedSize(t *testing.T) {
	c, err := Compressed(bytesCodec{}, &CompressOptions{MaxDecodedSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Marshal(make([]byte, 1001)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Marshal over MaxDecodedSize: err = %v, want ErrTooLarge", err)
	}
	b, err := c.Marshal(make([]byte, 1000))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := c.Unmarshal(b, &got); err != nil || len(got) != 1000 {
		t.Errorf("at MaxDecodedSize: %d bytes, %v", len(got), err)
	}
	// A reader with a smaller limit refuses what a larger one wrote.
	big, _ := Compressed(bytesCodec{}, nil)
	b = mustMarshal(t, big, make([]byte, 5000))
	if err := c.Unmarshal(b, &got); !errors.Is(err, ErrTooLarge) {
		t.Errorf("frame over the reader's limit: err = %v, want ErrTooLarge", err)
	}
}

func TestCompressOptions(t *testing.T) {
	for _, o := range []*CompressOptions{
		{Threshold: -1},
		{MaxDecodedSize: -1},
		{MaxDecodedSize: s2.MaxBlockSize + 1},
	} {
		c, err := Compressed(JSON, o)
		if !errors.Is(err, ErrInvalidOption) || c != nil {
			t.Errorf("Compressed(%+v) = %v, %v; want ErrInvalidOption", *o, c, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "hoard: ") {
			t.Errorf("error %q lacks the hoard: prefix", err)
		}
	}
	for _, o := range []*CompressOptions{nil, {}, {Threshold: 1, MaxDecodedSize: s2.MaxBlockSize}} {
		c, err := Compressed(nil, o)
		if err != nil {
			t.Fatalf("Compressed(nil, %v): %v", o, err)
		}
		if c.Name() != "json+s2" {
			t.Errorf("Name() = %q, want json+s2", c.Name())
		}
	}
	cc, _ := Compressed(nil, nil)
	if got := cc.(*compressedCodec); got.threshold != defaultCompressThreshold || got.maxDecoded != defaultMaxDecodedSize {
		t.Errorf("defaults: threshold %d, max %d", got.threshold, got.maxDecoded)
	}
	if cc, _ := Compressed(MsgPack, nil); cc.Name() != "msgpack+s2" {
		t.Errorf("Name() = %q, want msgpack+s2", cc.Name())
	}
}

// TestCodecConcurrent shares the pooled encoders, decoders and buffers
// between goroutines; run it with -race.
func TestCodecConcurrent(t *testing.T) {
	codecs := codecCodecs(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				c := codecs[(g+i)%len(codecs)]
				want := newCodecSample((g*7 + i) % 120)
				b, err := c.Marshal(want)
				if err != nil {
					t.Error(err)
					return
				}
				var got codecSample
				if err := c.Unmarshal(b, &got); err != nil {
					t.Error(err)
					return
				}
				checkSampleEqual(t, c.Name(), want, got)
			}
		})
	}
	wg.Wait()
}

// BenchmarkCodec compares codecs on a value of about 200 bytes and one of
// about 8 KiB (253 and 8185 bytes of JSON, 157 and 7084 of msgpack); the
// bytes/value metric of op=marshal is each codec's encoded size. Compare
// columns with benchstat -col /codec.
func BenchmarkCodec(b *testing.B) {
	codecs := codecCodecs(b)
	for _, size := range []struct {
		name string
		tags int
	}{{"200", 0}, {"8192", 505}} {
		v := newCodecSample(size.tags)
		for _, c := range codecs {
			data := mustMarshal(b, c, v)
			b.Run(fmt.Sprintf("op=marshal/size=%s/codec=%s", size.name, c.Name()), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Marshal(v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data)), "bytes/value")
			})
			b.Run(fmt.Sprintf("op=unmarshal/size=%s/codec=%s", size.name, c.Name()), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					var got codecSample
					if err := c.Unmarshal(data, &got); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
