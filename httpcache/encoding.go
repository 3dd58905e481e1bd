package httpcache

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of stored responses: a compressible body is compressed once,
// when it is stored, and kept in that one encoding. A hit is sent as
// stored to a client whose Accept-Encoding takes it, and decompressed for
// one that takes none; nothing is compressed on a hit. Both answers carry
// Vary: Accept-Encoding, and each representation its own ETag (the
// encoded one's ends in "-gzip" or "-zstd", as Apache's mod_deflate does),
// so a cache downstream never confuses them.

// The content codings a stored response can be kept in.
const (
	// EncodingGzip is gzip (RFC 9110 §8.4.1.3), which every client takes.
	EncodingGzip = "gzip"
	// EncodingZstd is Zstandard (RFC 8878): smaller and faster than gzip,
	// taken by current browsers; clients that take only gzip then get the
	// body decompressed.
	EncodingZstd = "zstd"
)

// Compression configures how stored bodies are compressed. The zero
// Compression compresses text, JSON, JavaScript, XML and SVG bodies of at
// least 1 KiB with gzip.
type Compression struct {
	// Disabled stores bodies as the handler wrote them.
	Disabled bool

	// Encoding is the coding bodies are stored in: EncodingGzip or
	// EncodingZstd. Default: EncodingGzip.
	Encoding string

	// MinBytes is the smallest body compressed. Default: 1024.
	MinBytes int

	// Compressible reports whether a body of a Content-Type is worth
	// compressing. Default: [DefaultCompressible].
	Compressible func(contentType string) bool
}

// defaultMinCompressBytes is Compression.MinBytes's default.
const defaultMinCompressBytes = 1024

func (c *Compression) validate() error {
	switch c.Encoding {
	case "", EncodingGzip, EncodingZstd:
	default:
		return fmt.Errorf("Compression.Encoding %q is neither %q nor %q", c.Encoding, EncodingGzip, EncodingZstd)
	}
	if c.MinBytes < 0 {
		return fmt.Errorf("Compression.MinBytes %d is negative", c.MinBytes)
	}
	return nil
}

// DefaultCompressible is Compression.Compressible's default: text/*,
// JSON, JavaScript, XML (and the +json, +xml types), SVG and WebAssembly.
// Images, audio, video and archives are compressed already.
func DefaultCompressible(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/ecmascript", "application/x-javascript",
		"application/xml", "application/wasm", "image/svg+xml", "application/manifest+json":
		return true
	}
	return false
}

// compressor compresses stored bodies in one coding.
type compressor struct {
	encoding string
	minBytes int
	types    func(string) bool
}

func (c *Compression) compile() *compressor {
	if c.Disabled {
		return nil
	}
	k := &compressor{encoding: c.Encoding, minBytes: c.MinBytes, types: c.Compressible}
	if k.encoding == "" {
		k.encoding = EncodingGzip
	}
	if k.minBytes == 0 {
		k.minBytes = defaultMinCompressBytes
	}
	if k.types == nil {
		k.types = DefaultCompressible
	}
	return k
}

// wants reports whether a response with h and a body of n bytes is
// compressed: a compressible type, long enough, not encoded or ranged
// already, and not marked no-transform.
func (k *compressor) wants(h http.Header, n int) bool {
	if k == nil || n < k.minBytes {
		return false
	}
	if _, ok := h["Content-Encoding"]; ok {
		return false
	}
	if _, ok := h["Content-Range"]; ok {
		return false
	}
	if cc, ok := h["Cache-Control"]; ok && ParseCacheControl(cc...).NoTransform {
		return false
	}
	return k.types(firstValue(h, "Content-Type"))
}

// compress returns body compressed, or nil when that does not save at
// least an eighth of it.
func (k *compressor) compress(body []byte) []byte {
	var out []byte
	switch k.encoding {
	case EncodingZstd:
		out = zstdEncoder().EncodeAll(body, make([]byte, 0, len(body)/2))
	default:
		buf := bytes.NewBuffer(make([]byte, 0, len(body)/2))
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(buf)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		_ = zw.Close()
		gzipWriters.Put(zw)
		out = buf.Bytes()
	}
	if len(out) > len(body)-len(body)/8 {
		return nil
	}
	return out
}

// gzipWriters and gzipReaders are reused: each holds a large window.
var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	gzipReaders sync.Pool
)

// zstdEncoder and zstdDecoder are made once: their EncodeAll and
// DecodeAll may be called concurrently, and start no goroutine.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err) // only bad options fail
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			panic(err) // only bad options fail
		}
		return d
	})
)

// decompress returns the identity body of a body stored in encoding,
// which is n bytes long.
func decompress(encoding string, body []byte, n int) ([]byte, error) {
	switch encoding {
	case EncodingZstd:
		out, err := zstdDecoder().DecodeAll(body, make([]byte, 0, n))
		if err == nil && len(out) != n {
			err = fmt.Errorf("%d bytes, want %d", len(out), n)
		}
		if err != nil {
			return nil, fmt.Errorf("httpcache: decompress a stored zstd body: %w", err)
		}
		return out, nil
	case EncodingGzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(body))
		} else {
			err = zr.Reset(bytes.NewReader(body))
		}
		if err != nil {
			return nil, fmt.Errorf("httpcache: decompress a stored gzip body: %w", err)
		}
		defer gzipReaders.Put(zr)
		out := make([]byte, n)
		if _, err := io.ReadFull(zr, out); err != nil {
			return nil, fmt.Errorf("httpcache: decompress a stored gzip body: %w", err)
		}
		if m, _ := zr.Read(make([]byte, 1)); m != 0 {
			return nil, fmt.Errorf("httpcache: decompress a stored gzip body: longer than %d bytes", n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("httpcache: a stored body in unknown coding %q", encoding)
}

// acceptsEncoding reports whether Accept-Encoding field values take
// coding with a q-value above 0 (RFC 9110 §12.5.3): named, or by "*"
// when not named.
func acceptsEncoding(values []string, coding string) bool {
	star := false
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			ok := qAboveZero(params)
			if strings.EqualFold(name, coding) {
				return ok
			}
			if name == "*" {
				star = ok
			}
		}
	}
	return star
}

// qAboveZero reads the parameters of an Accept-Encoding item: true
// unless a q of 0 (0, 0.0, 0.00, 0.000) or a malformed one.
func qAboveZero(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		return err == nil && q > 0
	}
	return true
}

// encodedETag is the ETag of the representation of a body in encoding
// whose identity ETag is etag: the opaque tag with "-" and the coding
// appended inside the quotes.
func encodedETag(etag, encoding string) string {
	if len(etag) < 2 || etag[len(etag)-1] != '"' {
		return ""
	}
	return etag[:len(etag)-1] + "-" + encoding + `"`
}
