package assets

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/andybalholm/brotli"
)

// Compression says which precompressed copies of its assets [Build] keeps,
// for the handler to serve by Accept-Encoding negotiation (see
// [Set.ServeHTTP]). Each asset that compresses gets a [Brotli] and a [Gzip]
// copy; one that does not is served as it is: an already-compressed type
// (PNG, JPEG, WebP, WOFF2, audio, video, archives) and a file under 512
// bytes (Caddy's default too) are not tried, and a copy that is not at
// least a tenth smaller than the original is dropped.
type Compression int

const (
	// CompressNone keeps no compressed copy. It is the default of Build,
	// which runs at start-up.
	CompressNone Compression = iota

	// CompressFast keeps brotli at quality 5 and gzip at level 6, in
	// about 0.1 s per MB of text and core: for Build at start-up. On
	// jquery.js (290 kB) brotli keeps 28% of the bytes, gzip 30%.
	CompressFast

	// CompressBest keeps brotli at quality 11 and gzip at level 9, in
	// about 2 s per MB of text and core (brotli's share): for building
	// ahead of time, which `hoard assets build` does by default. On
	// jquery.js brotli keeps 24% of the bytes, gzip 29%.
	CompressBest
)

// String returns "none", "fast" or "best".
func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressFast:
		return "fast"
	case CompressBest:
		return "best"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// The content codings of the precompressed copies, as they appear in
// Accept-Encoding, Content-Encoding and [Manifest].Encodings.
const (
	// Brotli (RFC 7932), in a file named FILE.br.
	Brotli = "br"
	// Gzip (RFC 1952), in a file named FILE.gz.
	Gzip = "gzip"
)

// codings are the content codings a Set can keep, each with its file
// suffix, in the order the manifest lists them.
var codings = []struct {
	name, suffix string
}{
	{Brotli, ".br"},
	{Gzip, ".gz"},
}

// EncodedName returns the name of the file that holds the copy of the file
// name compressed with coding: "css/site.3f2a9c1e.css.br" for [Brotli],
// ".gz" added for [Gzip], as nginx's gzip_static and Caddy's precompressed
// expect. It returns "" for another coding.
func EncodedName(name, coding string) string {
	for _, c := range codings {
		if c.name == coding {
			return name + c.suffix
		}
	}
	return ""
}

// knownCoding reports whether coding is one a Set can keep.
func knownCoding(coding string) bool {
	return EncodedName("", coding) != ""
}

// contentType returns the Content-Type of the asset name with content
// data: by its extension, else sniffed from data.
func contentType(name string, data []byte) string {
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		return ct
	}
	return http.DetectContentType(data)
}

// compressible reports whether an asset of that name and Content-Type is
// worth trying to compress: not already compressed.
func compressible(name, ctype string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".br", ".gz", ".zst", ".bz2", ".xz", ".zip", ".7z", ".rar", ".woff", ".woff2":
		return false
	}
	mt, _, _ := strings.Cut(strings.ToLower(ctype), ";")
	mt = strings.TrimSpace(mt)
	switch mt {
	case "image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp":
		return true
	case "font/woff", "font/woff2", "application/font-woff",
		"application/zip", "application/gzip", "application/x-gzip", "application/zstd",
		"application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
		"application/vnd.rar", "application/x-rar-compressed":
		return false
	}
	return !strings.HasPrefix(mt, "image/") && !strings.HasPrefix(mt, "audio/") && !strings.HasPrefix(mt, "video/")
}

// minCompressSize is the size under which an asset is not compressed: it
// fits in one packet either way, and its copy would save less than the
// headers the negotiation adds (Content-Encoding, Vary).
const minCompressSize = 512

// worthKeeping reports whether a compressed copy of n bytes of an original
// of orig bytes saves enough to be served: at least a tenth.
func worthKeeping(n, orig int) bool {
	return n <= orig-orig/10 && n < orig
}

// encode returns data compressed with coding at level c (not CompressNone).
func encode(coding string, data []byte, c Compression) ([]byte, error) {
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch coding {
	case Brotli:
		q := 5
		if c == CompressBest {
			q = brotli.BestCompression
		}
		w = brotli.NewWriterLevel(&buf, q)
	case Gzip:
		level := gzip.DefaultCompression
		if c == CompressBest {
			level = gzip.BestCompression
		}
		gw, err := gzip.NewWriterLevel(&buf, level) // no name, no time: the same bytes every build
		if err != nil {
			return nil, err
		}
		w = gw
	default:
		return nil, fmt.Errorf("%w: coding %q", ErrInvalidOption, coding)
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compressAsset returns the compressed copies of a (held in memory) that
// are worth keeping, smallest first.
func compressAsset(a *asset, c Compression) ([]*variant, error) {
	if c == CompressNone || len(a.data) < minCompressSize || !compressible(a.logical, a.ctype) {
		return nil, nil
	}
	var vs []*variant
	for _, cd := range codings {
		enc, err := encode(cd.name, a.data, c)
		if err != nil {
			return nil, fmt.Errorf("hoard: assets: compressing %s: %w", a.logical, err)
		}
		if worthKeeping(len(enc), len(a.data)) {
			vs = append(vs, &variant{coding: cd.name, etag: etagOf(sum(enc)), data: enc, size: int64(len(enc))})
		}
	}
	sortVariants(vs)
	return vs, nil
}
