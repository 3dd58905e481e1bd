package hoard

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// DefaultCompressThreshold is the encoded size, in bytes, from which a
// [Compressed] codec compresses when [CompressOptions.Threshold] is zero.
const DefaultCompressThreshold = 1 << 10

// DefaultMaxDecodedSize is the largest encoded value, in bytes, a [Compressed]
// codec writes or inflates when [CompressOptions.MaxDecodedSize] is zero.
const DefaultMaxDecodedSize = 64 << 20

// The first byte of every frame a Compressed codec writes.
const (
	frameRaw byte = 0 // the inner encoding follows as is
	frameS2  byte = 1 // an S2 block of the inner encoding follows
)

// CompressOptions configure a [Compressed] codec. The zero value (or nil)
// takes every default.
type CompressOptions struct {
	// Threshold is the smallest inner encoding, in bytes, that is
	// compressed; smaller ones are stored as they are, behind a one-byte
	// header. Use 1 to compress everything. It must not be negative. Zero
	// means [DefaultCompressThreshold].
	Threshold int

	// MaxDecodedSize is the largest inner encoding, in bytes, the codec
	// writes or inflates. Marshal refuses a larger value with [ErrTooLarge],
	// so the codec never writes what it would refuse to read; Unmarshal
	// checks the length a compressed frame claims against it before
	// allocating anything, so a frame that lies costs at most this much
	// memory. It must not be negative nor over s2.MaxBlockSize (4 GiB, 2 GiB
	// on 32-bit platforms). Zero means [DefaultMaxDecodedSize].
	MaxDecodedSize int
}

func (o *CompressOptions) validate() error {
	if o == nil {
		return nil
	}
	if o.Threshold < 0 {
		return fmt.Errorf("%w: compress Threshold %d is negative", ErrInvalidOption, o.Threshold)
	}
	if o.MaxDecodedSize < 0 || o.MaxDecodedSize > s2.MaxBlockSize {
		return fmt.Errorf("%w: compress MaxDecodedSize %d: must be between 0 (the default) and %d",
			ErrInvalidOption, o.MaxDecodedSize, s2.MaxBlockSize)
	}
	return nil
}

// Compressed returns a [Codec] that encodes with inner and compresses large
// encodings with S2 (github.com/klauspost/compress/s2, a faster relative of
// Snappy whose decoder also reads Snappy blocks). A nil inner means [JSON];
// a nil o takes the defaults. An invalid option gives an error wrapping
// [ErrInvalidOption].
//
// Every value is written as one header byte and a body: 0 and the inner
// encoding as is, or 1 and an S2 block of it. Encodings under
// [CompressOptions.Threshold] are stored raw, and so are larger ones that S2
// cannot shrink; so a small value costs one byte more than with inner, and
// the bytes say how to read them whatever the options of the writer were.
//
// Unmarshal reports a frame that does not decode (empty, unknown header
// byte, bad S2 block) with [ErrCorrupt], and one whose S2 block claims more
// than [CompressOptions.MaxDecodedSize] bytes with [ErrTooLarge], before
// allocating them: such a frame may be honest, from a writer with a larger
// limit, so it is refused as too large rather than corrupt. Errors of inner
// are returned as inner gave them. Unmarshal keeps neither data nor the
// inflated bytes it hands to inner.
//
// The codec's name is inner's name followed by "+s2" ("msgpack+s2").
func Compressed(inner Codec, o *CompressOptions) (Codec, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	inner = codecOrJSON(inner)
	c := &compressedCodec{
		inner:      inner,
		name:       inner.Name() + "+s2",
		threshold:  DefaultCompressThreshold,
		maxDecoded: DefaultMaxDecodedSize,
	}
	if o != nil && o.Threshold != 0 {
		c.threshold = o.Threshold
	}
	if o != nil && o.MaxDecodedSize != 0 {
		c.maxDecoded = o.MaxDecodedSize
	}
	return c, nil
}

type compressedCodec struct {
	inner      Codec
	name       string
	threshold  int
	maxDecoded int
}

func (c *compressedCodec) Name() string { return c.name }

func (c *compressedCodec) Marshal(v any) ([]byte, error) {
	raw, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(raw) > c.maxDecoded {
		return nil, fmt.Errorf("%w: %s: encoded value is %d bytes, over MaxDecodedSize %d",
			ErrTooLarge, c.name, len(raw), c.maxDecoded)
	}
	if len(raw) >= c.threshold {
		buf := getCompressBuf(s2.MaxEncodedLen(len(raw)))
		block := s2.Encode(*buf, raw)
		if len(block) < len(raw) {
			out := make([]byte, 1+len(block))
			out[0] = frameS2
			copy(out[1:], block)
			putCompressBuf(buf)
			return out, nil
		}
		putCompressBuf(buf)
	}
	out := make([]byte, 1+len(raw))
	out[0] = frameRaw
	copy(out[1:], raw)
	return out, nil
}

func (c *compressedCodec) Unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: %s: empty frame", ErrCorrupt, c.name)
	}
	switch data[0] {
	case frameRaw:
		return c.inner.Unmarshal(data[1:], v)
	case frameS2:
	default:
		return fmt.Errorf("%w: %s: unknown frame header byte %#x", ErrCorrupt, c.name, data[0])
	}
	block := data[1:]
	n, err := s2.DecodedLen(block)
	if err != nil {
		return fmt.Errorf("%w: %s: s2 block length: %w", ErrCorrupt, c.name, err)
	}
	if n > c.maxDecoded {
		return fmt.Errorf("%w: %s: s2 block claims %d decoded bytes, over MaxDecodedSize %d",
			ErrTooLarge, c.name, n, c.maxDecoded)
	}
	buf := getCompressBuf(n)
	raw, err := s2.Decode(*buf, block)
	if err != nil {
		putCompressBuf(buf)
		return fmt.Errorf("%w: %s: s2: %w", ErrCorrupt, c.name, err)
	}
	err = c.inner.Unmarshal(raw, v)
	putCompressBuf(buf)
	return err
}

// maxPooledCompressBuf is the largest buffer kept for reuse, so that the
// pool never pins the memory of a rare huge value.
const maxPooledCompressBuf = 256 << 10

// compressBufs holds scratch buffers for S2 blocks and inflated encodings.
var compressBufs sync.Pool // of *[]byte

// getCompressBuf returns a scratch buffer of length n, from the pool when n is
// at most maxPooledCompressBuf.
func getCompressBuf(n int) *[]byte {
	if n <= maxPooledCompressBuf {
		if p, ok := compressBufs.Get().(*[]byte); ok && cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	}
	b := make([]byte, n)
	return &b
}

func putCompressBuf(p *[]byte) {
	if cap(*p) <= maxPooledCompressBuf {
		compressBufs.Put(p)
	}
}
