package hoard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MsgPack is a binary [Codec] on github.com/vmihailenco/msgpack/v5: smaller
// and faster than [JSON], at the price of values redis-cli cannot show.
//
// Struct fields are named by their msgpack tags, falling back to their json
// tags, so a type tagged for JSON (`json:"id"`, `json:"-"`,
// `json:",omitempty"`) keeps the same fields under MsgPack. Integers are
// written in their smallest form, which typed fields read back exactly; a
// value decoded into an interface gets msgpack's own Go types (int8 to int64,
// uint8 to uint64, float32, float64, string, []byte, time.Time, []any and
// map[string]any).
//
// Unmarshal treats data as untrusted. Before decoding, it checks that data
// holds exactly one msgpack value, that no length or element count in it
// claims more bytes than are left, and that arrays and maps nest at most
// 10000 deep. A bad input is refused with [ErrCorrupt] before anything is
// allocated for it, and decoding allocates no more than an honest value of
// len(data) bytes needs, whatever lengths the input claims. (The msgpack
// library alone allocates what a header claims: 4 GiB for the 5-byte header
// of a bin32, more than the machine has for an array32 or map32 decoded into
// an interface.) The payload of an extension value is opaque: it is read as
// bytes, never decoded as nested msgpack. Unmarshal copies what it keeps:
// strings and byte slices in v never share memory with data.
var MsgPack Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

// maxPooledMsgpack is the largest encoding, in bytes, after which an encoder
// or decoder still goes back to its pool. Their buffers grow to the largest
// value they handled, and a pool must not pin a 64 MiB buffer per P.
const maxPooledMsgpack = 64 << 10

// msgpackEncoder is a pooled encoder with the buffer it writes to.
type msgpackEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var msgpackEncoders = sync.Pool{New: func() any {
	e := new(msgpackEncoder)
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.UseCompactInts(true)
	e.enc.SetCustomStructTag("json")
	return e
}}

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	err := e.enc.Encode(v)
	var b []byte
	if err == nil {
		b = bytes.Clone(e.buf.Bytes())
	}
	if e.buf.Cap() <= maxPooledMsgpack {
		e.buf.Reset()
		msgpackEncoders.Put(e)
	}
	if err != nil {
		return nil, fmt.Errorf("hoard: msgpack marshal: %w", err)
	}
	return b, nil
}

// msgpackDecoder is a pooled decoder with the reader it reads from. It is
// not msgpack.Unmarshal's: that one preallocates values through a goroutine
// per decoded type that never ends, and reads a bytes.Reader unguarded.
type msgpackDecoder struct {
	r   msgpackReader
	dec *msgpack.Decoder
}

var msgpackDecoders = sync.Pool{New: func() any {
	d := new(msgpackDecoder)
	// d.r has ReadByte and UnreadByte, so the decoder reads it directly,
	// without a bufio.Reader of its own.
	d.dec = msgpack.NewDecoder(&d.r)
	d.dec.SetCustomStructTag("json")
	return d
}}

func (msgpackCodec) Unmarshal(data []byte, v any) error {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	exts, err := checkMsgpack(data, d.r.exts[:0])
	d.r.exts = exts
	if err != nil {
		if len(data) <= maxPooledMsgpack {
			msgpackDecoders.Put(d)
		}
		return fmt.Errorf("%w: msgpack: %w", ErrCorrupt, err)
	}
	d.r.data, d.r.pos, d.r.next = data, 0, 0
	err = d.dec.Decode(v)
	d.r.data = nil
	if err != nil {
		// A decoder that failed halfway may keep recording the bytes it
		// reads (its rec buffer is cleared only on success), so it is
		// dropped rather than pooled.
		return fmt.Errorf("%w: msgpack: %w", ErrCorrupt, err)
	}
	if len(data) <= maxPooledMsgpack {
		msgpackDecoders.Put(d)
	}
	return nil
}

// errMsgpackExtPrefix is returned by msgpackReader when the decoder reads
// into the payload of an extension value as if it held msgpack.
var errMsgpackExtPrefix = errors.New("extension payload read as a msgpack value")

// msgpackReader feeds a checked input to the decoder. Besides reading, it
// guards the one place where the decoder and [checkMsgpack] could disagree on
// where values start: decoding a map, msgpack/v5 skips an extension header
// that comes first and reads the map from the extension's payload, bytes the
// check treated as opaque. The decoder reads every value's first byte with
// ReadByte, and payloads with Read, so a ReadByte at the start of a non-empty
// extension payload is that skip, and fails.
type msgpackReader struct {
	data []byte
	pos  int
	exts []int // where non-empty extension payloads start, ascending
	next int   // exts[:next] are all below pos
}

func (r *msgpackReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

func (r *msgpackReader) ReadByte() (byte, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	for r.next < len(r.exts) && r.exts[r.next] < r.pos {
		r.next++
	}
	if r.next < len(r.exts) && r.exts[r.next] == r.pos {
		return 0, errMsgpackExtPrefix
	}
	c := r.data[r.pos]
	r.pos++
	return c, nil
}

func (r *msgpackReader) UnreadByte() error {
	if r.pos == 0 {
		return errors.New("msgpack: UnreadByte at start of input")
	}
	r.pos--
	for r.next > 0 && r.exts[r.next-1] >= r.pos {
		r.next--
	}
	return nil
}

// msgpackMaxDepth bounds the nesting of arrays and maps, as encoding/json
// bounds its own: the decoder recurses once per level.
const msgpackMaxDepth = 10000

// checkMsgpack checks that data holds exactly one msgpack value, that every
// string, binary and extension length fits in the bytes left after its
// header, that every array and map claims no more elements than there are
// bytes left (each element takes at least one), and that containers nest at
// most msgpackMaxDepth deep. It appends to exts the offset of each non-empty
// extension payload, for [msgpackReader].
//
// It allocates nothing for containers nested up to 16 deep.
func checkMsgpack(data []byte, exts []int) ([]int, error) {
	var stackArr [16]int
	stack := stackArr[:0] // values left to read in each enclosing container
	left := 1             // values left to read in the current container
	pos := 0
	for {
		for left == 0 {
			if len(stack) == 0 {
				if pos != len(data) {
					return exts, fmt.Errorf("%d bytes after the value", len(data)-pos)
				}
				return exts, nil
			}
			left = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		if pos >= len(data) {
			return exts, io.ErrUnexpectedEOF
		}
		start, c := pos, data[pos]
		pos++
		left--

		var (
			lenBytes int    // size of the big-endian length that follows c
			size     uint64 // payload bytes, or the length when lenBytes > 0
			perLen   uint64 // values per unit of length: 1 array, 2 map, 0 other
			ext      bool   // a type byte precedes the payload
		)
		switch {
		case c <= 0x7f || c >= 0xe0: // fixint
		case c <= 0x8f: // fixmap
			size, perLen = uint64(c&0x0f), 2
		case c <= 0x9f: // fixarray
			size, perLen = uint64(c&0x0f), 1
		case c <= 0xbf: // fixstr
			size = uint64(c & 0x1f)
		default:
			switch c {
			case 0xc0, 0xc2, 0xc3: // nil, false, true
			case 0xc1:
				return exts, fmt.Errorf("reserved code 0xc1 at offset %d", start)
			case 0xc4, 0xd9: // bin8, str8
				lenBytes = 1
			case 0xc5, 0xda: // bin16, str16
				lenBytes = 2
			case 0xc6, 0xdb: // bin32, str32
				lenBytes = 4
			case 0xc7: // ext8
				lenBytes, ext = 1, true
			case 0xc8: // ext16
				lenBytes, ext = 2, true
			case 0xc9: // ext32
				lenBytes, ext = 4, true
			case 0xcc, 0xd0: // uint8, int8
				size = 1
			case 0xcd, 0xd1: // uint16, int16
				size = 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				size = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				size = 8
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext1 to fixext16
				size, ext = 1<<(c-0xd4), true
			case 0xdc: // array16
				lenBytes, perLen = 2, 1
			case 0xdd: // array32
				lenBytes, perLen = 4, 1
			case 0xde: // map16
				lenBytes, perLen = 2, 2
			case 0xdf: // map32
				lenBytes, perLen = 4, 2
			}
		}
		if lenBytes > 0 {
			if len(data)-pos < lenBytes {
				return exts, io.ErrUnexpectedEOF
			}
			for _, b := range data[pos : pos+lenBytes] {
				size = size<<8 | uint64(b)
			}
			pos += lenBytes
		}
		if ext {
			if pos >= len(data) {
				return exts, io.ErrUnexpectedEOF
			}
			pos++ // the type byte
			if size > 0 {
				exts = append(exts, pos)
			}
		}
		rest := uint64(len(data) - pos)

		if perLen == 0 { // a scalar: size bytes follow
			if size > rest {
				return exts, fmt.Errorf("value at offset %d claims %d bytes, more than the %d left", start, size, rest)
			}
			pos += int(size)
			continue
		}
		// An array or a map of size*perLen values, each at least one byte.
		elems := size * perLen
		if elems > rest {
			return exts, fmt.Errorf("container at offset %d claims %d values, more than the %d bytes left", start, elems, rest)
		}
		if len(stack) >= msgpackMaxDepth {
			return exts, fmt.Errorf("arrays and maps nested deeper than %d", msgpackMaxDepth)
		}
		stack = append(stack, left)
		left = int(elems)
	}
}
