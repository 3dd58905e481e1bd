package assets

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// bigCSS and bigJS compress well; they are large enough that both copies
// save far more than a tenth.
var (
	bigCSS = strings.Repeat("#probe .item{color:rgb(200,0,0);margin:0 auto;padding:4px}\n", 80) + "a{background:url(../img/dot.png)}\n"
	bigJS  = "var words = [" + strings.Repeat(`"compressible", "asset", "content", `, 100) + "];\n"
)

// compressedFiles is a tree with assets that compress and ones that do not.
func compressedFiles() []string {
	return []string{
		"css/site.css", bigCSS,
		"js/app.js", bigJS,
		"img/dot.png", "\x89PNG\r\n\x1a\n" + strings.Repeat("A", 2000), // compresses, but PNG is compressed already
		"img/icon.svg", "<svg xmlns='http://www.w3.org/2000/svg'>" + strings.Repeat("<rect width='1' height='1'/>", 50) + "</svg>",
		"tiny.txt", "hi",
		"LICENSE", strings.Repeat("Permission is hereby granted, free of charge. ", 40), // sniffed as text
		"data.bin", string(randomBytes(4096)), // does not compress
	}
}

// randomBytes returns n bytes that do not compress (a fixed xorshift
// sequence).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// decode returns body decoded from coding.
func decode(t testing.TB, coding string, body []byte) string {
	t.Helper()
	var r io.Reader
	switch coding {
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(body))
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	default:
		return string(body)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return string(data)
}

func TestBuildCompress(t *testing.T) {
	for _, c := range []Compression{CompressFast, CompressBest} {
		t.Run(c.String(), func(t *testing.T) {
			s := mustBuild(t, files(compressedFiles()...), &Options{Compress: c})
			want := map[string][]string{
				"css/site.css": {Brotli, Gzip},
				"js/app.js":    {Brotli, Gzip},
				"img/icon.svg": {Brotli, Gzip},
				"LICENSE":      {Brotli, Gzip},
			}
			m := s.Manifest()
			if len(m.Encodings) != len(want) {
				t.Errorf("Encodings %v, want %v", m.Encodings, want)
			}
			for name, codings := range want {
				if !slices.Equal(m.Encodings[name], codings) {
					t.Errorf("Encodings[%s] = %v, want %v", name, m.Encodings[name], codings)
				}
				content := mustContent(t, s, name)
				for _, coding := range codings {
					enc, err := s.Encoded(name, coding)
					if err != nil {
						t.Fatal(err)
					}
					if len(enc) > len(content)*9/10 {
						t.Errorf("%s %s: %d bytes of %d kept", name, coding, len(enc), len(content))
					}
					if got := decode(t, coding, enc); got != content {
						t.Errorf("%s %s does not decode to the content", name, coding)
					}
					if hashed, _ := s.Encoded(m.Assets[name], coding); !bytes.Equal(hashed, enc) {
						t.Errorf("%s %s: Encoded by hashed name differs", name, coding)
					}
				}
			}
			for _, name := range []string{"img/dot.png", "tiny.txt", "data.bin"} {
				if _, err := s.Encoded(name, Gzip); !errors.Is(err, ErrUnknownAsset) {
					t.Errorf("Encoded(%s): err = %v, want ErrUnknownAsset", name, err)
				}
			}
			if _, err := s.Encoded("nope.css", Gzip); !errors.Is(err, ErrUnknownAsset) {
				t.Errorf("Encoded(nope.css): %v", err)
			}
			// The same files give the same bytes: a rebuild rewrites nothing.
			again := mustBuild(t, files(compressedFiles()...), &Options{Compress: c})
			for name, codings := range want {
				for _, coding := range codings {
					a, _ := s.Encoded(name, coding)
					b, _ := again.Encoded(name, coding)
					if !bytes.Equal(a, b) {
						t.Errorf("%s %s differs between two builds", name, coding)
					}
				}
			}
		})
	}
	if m := mustBuild(t, files(compressedFiles()...), nil).Manifest(); m.Encodings != nil {
		t.Errorf("CompressNone kept copies: %v", m.Encodings)
	}
}

func TestBuildCompressMinSize(t *testing.T) {
	small, big := strings.Repeat("a", minCompressSize-1), strings.Repeat("a", minCompressSize)
	m := mustBuild(t, files("small.txt", small, "big.txt", big), &Options{Compress: CompressFast}).Manifest()
	if _, ok := m.Encodings["small.txt"]; ok || len(m.Encodings["big.txt"]) != 2 {
		t.Errorf("Encodings %v, want big.txt only", m.Encodings)
	}
}

func TestBuildCompressMaxBytes(t *testing.T) {
	tree := files("a.js", bigJS, "b.css", bigCSS, "c.svg", strings.Repeat("<g/>", 500))
	size := int64(len(bigJS) + len(bigCSS) + 2000)
	if _, err := Build(tree, &Options{MaxBytes: size}); err != nil {
		t.Fatalf("without copies: %v", err)
	}
	if _, err := Build(tree, &Options{MaxBytes: size, Compress: CompressFast}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("copies past MaxBytes: err = %v, want ErrTooLarge", err)
	}
	if _, err := Build(tree, &Options{MaxBytes: 2 * size, Compress: CompressFast}); err != nil {
		t.Errorf("copies within MaxBytes: %v", err)
	}
}

func TestCompressible(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"a.css", true}, {"a.js", true}, {"a.json", true}, {"a.svg", true}, {"a.html", true},
		{"a.wasm", true}, {"a.ico", true}, {"a.txt", true}, {"a.map", true}, {"a.xml", true},
		{"a.png", false}, {"a.jpg", false}, {"a.gif", false}, {"a.webp", false}, {"a.avif", false},
		{"a.woff", false}, {"a.woff2", false}, {"a.mp4", false}, {"a.mp3", false},
		{"a.zip", false}, {"a.gz", false}, {"a.br", false}, {"a.zst", false}, {"a.JS.GZ", false},
	} {
		if got := compressible(tc.name, contentType(tc.name, []byte("text"))); got != tc.want {
			t.Errorf("compressible(%s) = %v, want %v (type %s)", tc.name, got, tc.want, contentType(tc.name, nil))
		}
	}
	// Without a known extension, the sniffed type decides.
	if !compressible("LICENSE", contentType("LICENSE", []byte("MIT License"))) {
		t.Error("sniffed text is not compressible")
	}
	if compressible("blob", contentType("blob", []byte("\x1f\x8b\x08\x00rest"))) {
		t.Error("sniffed gzip is compressible")
	}
	if EncodedName("a/b.css", Brotli) != "a/b.css.br" || EncodedName("b.css", Gzip) != "b.css.gz" || EncodedName("b.css", "zstd") != "" {
		t.Error("EncodedName")
	}
}

// Build over a directory that `hoard assets build` wrote into: the
// compressed copies of hashed copies are not assets, but a source that
// happens to end in .gz is.
func TestBuildSkipsCompressedOutputs(t *testing.T) {
	dir := t.TempDir()
	first := mustBuild(t, files("css/site.css", bigCSS, "img/dot.png", "PNG", "dl/data.gz", "\x1f\x8b\x08\x00"), &Options{Compress: CompressFast})
	writeTree(t, dir, "css/site.css", bigCSS, "img/dot.png", "PNG", "dl/data.gz", "\x1f\x8b\x08\x00")
	m := first.Manifest()
	for name, hashed := range m.Assets {
		writeTree(t, dir, hashed, mustContent(t, first, name))
		for _, coding := range m.Encodings[name] {
			enc, _ := first.Encoded(name, coding)
			writeTree(t, dir, EncodedName(hashed, coding), string(enc))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(EncodedName(m.Assets["css/site.css"], Brotli)))); err != nil {
		t.Fatal(err)
	}
	again, err := Build(os.DirFS(dir), &Options{Compress: CompressFast})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := again.Manifest().Names(), []string{"css/site.css", "dl/data.gz", "img/dot.png"}; !slices.Equal(got, want) {
		t.Errorf("assets %v, want %v", got, want)
	}
}
