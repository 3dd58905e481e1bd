package assets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// asset is one file of a Set, at one version.
type asset struct {
	logical  string                // "css/site.css"
	hashed   string                // "css/site.3f2a9c1e.css" or "css/site.css?v=3f2a9c1e"
	hash     string                // "3f2a9c1e"
	etag     string                // strong ETag of the content; "" when it is read from src
	data     []byte                // the content; nil when it is read from src
	src      fs.FS                 // where the content is when data is nil
	file     string                // its name in src
	stamp    atomic.Pointer[stamp] // the last sum of src's file
	ctype    string                // Content-Type; "" to leave it to the extension or a sniff
	variants []*variant            // precompressed copies, smallest first
}

// Set is a fingerprinted set of static assets: a [Manifest] plus the
// content to serve under each name. Make one with [Build] (hashing at
// start-up) or [Load] (a manifest built ahead of time). A Set never
// changes once made and is safe for concurrent use; to take up changed
// files, build a new Set (with the old one in Options.Previous) and swap
// it in, for example through an atomic.Pointer.
//
// A Set is an [http.Handler] for its assets (see [Set.ServeHTTP]); its
// [Set.URL] and [Set.FuncMap] give the URLs to put in pages.
type Set struct {
	o       *resolved
	logical map[string]*asset // by logical name
	hashed  map[string]*asset // by hashed name, this set's and Previous'
	src     fs.FS             // where older hashed copies may be found; nil for none
	stamps  sync.Map          // file name in src -> *stamp, for the older copies
	missing []MissingRef      // what Build left unrewritten, Options.AllowMissing
}

// stamp is the SHA-256 of a file of src, valid while its size and
// modification time stay as they were.
type stamp struct {
	size    int64
	modTime int64
	full    string
}

func newSet(o *resolved, assets map[string]*asset, src fs.FS) *Set {
	s := &Set{o: o, logical: assets, hashed: make(map[string]*asset, len(assets)), src: src}
	for _, p := range o.Previous {
		for _, a := range p.logical {
			s.hashed[a.hashed] = a
		}
	}
	for _, a := range assets {
		s.hashed[a.hashed] = a
	}
	return s
}

// Load returns the Set of a manifest built ahead of time (by `hoard assets
// build`) over fsys, the directory that holds the hashed copies. Nothing is
// read into memory: each request opens its file. Load checks that every
// file the manifest names is there, so a bad deploy fails at start-up.
// Options.Naming is not used (each entry says its own) nor are MaxBytes,
// Skip, AllowMissing and Compress: the precompressed copies are those the
// manifest lists (Manifest.Encodings), whose files Load checks too.
//
// Hashed copies from older builds that are still in fsys stay servable as
// immutable, after their content is checked against the hash in their
// name, which is what a rolling deploy needs.
func Load(fsys fs.FS, m *Manifest, opts *Options) (*Set, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: nil", ErrInvalidManifest)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	assets := make(map[string]*asset, len(m.Assets))
	for logical, hashed := range m.Assets {
		hash, file, _ := parseEntry(logical, hashed) // validate checked it
		if _, err := fs.Stat(fsys, file); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidManifest, logical, err)
		}
		a := &asset{logical: logical, hashed: hashed, hash: hash, src: fsys, file: file}
		if err := loadVariants(a, m.Encodings[logical]); err != nil {
			return nil, err
		}
		assets[logical] = a
	}
	return newSet(o, assets, fsys), nil
}

// loadVariants gives a, read from its src, the precompressed copies the
// manifest lists for it, after checking that their files are there, and
// the Content-Type to send them with: by the extension, else sniffed from
// the start of a's file.
func loadVariants(a *asset, list []string) error {
	for _, coding := range list {
		name := EncodedName(a.file, coding)
		info, err := fs.Stat(a.src, name)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidManifest, a.logical, err)
		}
		a.variants = append(a.variants, &variant{coding: coding, size: info.Size(), file: name})
	}
	sortVariants(a.variants)
	if len(a.variants) == 0 {
		return nil
	}
	if a.ctype = mime.TypeByExtension(path.Ext(a.logical)); a.ctype != "" {
		return nil
	}
	f, err := a.src.Open(a.file)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidManifest, a.logical, err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hoard: assets: %s: %w", a.logical, err)
	}
	a.ctype = http.DetectContentType(head[:n])
	return nil
}

// URL returns the URL of the asset with the given logical name: the
// Prefix followed by its hashed name, as "/static/css/site.3f2a9c1e.css".
// An unknown name gives an error wrapping [ErrUnknownAsset].
func (s *Set) URL(name string) (string, error) {
	a := s.logical[name]
	if a == nil {
		return "", fmt.Errorf("%w %q", ErrUnknownAsset, name)
	}
	return s.o.Prefix + a.hashed, nil
}

// Manifest returns a copy of the set's manifest: every logical name with
// its hashed name (not those kept from Options.Previous).
func (s *Set) Manifest() *Manifest {
	m := &Manifest{Version: ManifestVersion, Assets: make(map[string]string, len(s.logical))}
	for name, a := range s.logical {
		m.Assets[name] = a.hashed
		for _, c := range codings { // in the manifest's order
			if a.variant(c.name) != nil {
				if m.Encodings == nil {
					m.Encodings = map[string][]string{}
				}
				m.Encodings[name] = append(m.Encodings[name], c.name)
			}
		}
	}
	return m
}

// variant returns the copy of a compressed with coding, or nil.
func (a *asset) variant(coding string) *variant {
	for _, v := range a.variants {
		if v.coding == coding {
			return v
		}
	}
	return nil
}

// Encoded returns the precompressed copy of the asset with a logical or
// hashed name of this set, in the content coding [Brotli] or [Gzip], as
// the handler serves it: what `hoard assets build` writes beside the
// hashed copy (see [EncodedName]). [Set.Manifest] lists which copies each
// asset has. An unknown name, or a coding the asset has no copy in, gives
// an error wrapping [ErrUnknownAsset].
func (s *Set) Encoded(name, coding string) ([]byte, error) {
	a := s.logical[name]
	if a == nil {
		a = s.hashed[name]
	}
	if a == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownAsset, name)
	}
	v := a.variant(coding)
	if v == nil {
		return nil, fmt.Errorf("%w: no %q copy of %q", ErrUnknownAsset, coding, name)
	}
	if v.data != nil {
		return v.data, nil
	}
	data, err := fs.ReadFile(a.src, v.file)
	if err != nil {
		return nil, fmt.Errorf("hoard: assets: %w", err)
	}
	return data, nil
}

// Missing returns the references in stylesheets to files that the set
// does not have, which Build left as written because Options.AllowMissing
// was set, by stylesheet and line. It is empty for a set made by Load,
// which reads no stylesheet.
func (s *Set) Missing() []MissingRef {
	return slices.Clone(s.missing)
}

// Content returns the bytes served for a logical or hashed name of this
// set (for a stylesheet, after its references were rewritten). It is what
// `hoard assets build` writes to disk. An unknown name gives an error
// wrapping [ErrUnknownAsset].
func (s *Set) Content(name string) ([]byte, error) {
	a := s.logical[name]
	if a == nil {
		a = s.hashed[name]
	}
	if a == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownAsset, name)
	}
	if a.data != nil {
		return a.data, nil
	}
	data, err := fs.ReadFile(a.src, a.file)
	if err != nil {
		return nil, fmt.Errorf("hoard: assets: %w", err)
	}
	return data, nil
}

// sumFile returns the stamp of the open file f, which is name in fsys:
// cached if its size and modification time are still those of cached
// (which may be nil), else computed by reading the file.
func sumFile(fsys fs.FS, f fs.File, name string, cached *stamp) (*stamp, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	if cached != nil && cached.size == info.Size() && cached.modTime == info.ModTime().UnixNano() {
		return cached, nil
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != info.Size() {
		return nil, errors.New("hoard: assets: file changed while it was read")
	}
	return &stamp{size: info.Size(), modTime: info.ModTime().UnixNano(), full: sum(data)}, nil
}

// validName reports whether name is a clean, slash-separated relative path
// of a file ("css/site.css"), not ".", "..", "/x", "a//b" or "a\b".
func validName(name string) bool {
	return name != "." && fs.ValidPath(name) && !strings.Contains(name, `\`)
}
