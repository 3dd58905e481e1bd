package assets

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// ManifestVersion is the format version that [Manifest.WriteTo] writes.
// [LoadManifest] accepts it and version 1, which had no Encodings.
const ManifestVersion = 2

// maxManifestBytes bounds what LoadManifest reads.
const maxManifestBytes = 64 << 20

// Manifest maps each asset's logical name ("css/site.css") to its hashed
// name ("css/site.3f2a9c1e.css", or "css/site.css?v=3f2a9c1e" under
// [HashInQuery]). [Build] computes one at start-up; `hoard assets build`
// writes one ahead of time, with the hashed copies, for [Load]. Its JSON
// form is
//
//	{
//	  "version": 2,
//	  "assets": {"css/site.css": "css/site.3f2a9c1e.css", "img/a.png": "img/a.5d41402a.png"},
//	  "encodings": {"css/site.css": ["br", "gzip"]}
//	}
type Manifest struct {
	// Version is the format version, [ManifestVersion].
	Version int `json:"version"`
	// Assets maps logical names to hashed names.
	Assets map[string]string `json:"assets"`
	// Encodings lists, for each logical name that has any, the content
	// codings ([Brotli], [Gzip]) of its precompressed copies, each in a
	// file next to the asset's content (see [EncodedName]): beside the
	// hashed copy, or under [HashInQuery] beside the logical name. Names
	// without copies are left out.
	Encodings map[string][]string `json:"encodings,omitempty"`
}

// Names returns the logical names, sorted.
func (m *Manifest) Names() []string {
	return slices.Sorted(maps.Keys(m.Assets))
}

// WriteTo writes m as indented JSON, keys sorted, so that the same assets
// always give the same bytes (a manifest under version control diffs
// cleanly). It implements [io.WriterTo].
func (m *Manifest) WriteTo(w io.Writer) (int64, error) {
	v := *m
	if v.Version == 0 {
		v.Version = ManifestVersion
	}
	if v.Assets == nil {
		v.Assets = map[string]string{}
	}
	data, err := json.MarshalIndent(&v, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("hoard: assets: encoding manifest: %w", err)
	}
	n, err := w.Write(append(data, '\n'))
	return int64(n), err
}

// LoadManifest decodes a manifest written by [Manifest.WriteTo] (or `hoard
// assets build`) and checks it: the version is known, every logical name
// is a clean relative path, every hashed name is that name with a hex
// hash in it, and every encoding is a known one of a listed asset. It reads at most 64 MiB. Errors wrap [ErrInvalidManifest].
func LoadManifest(r io.Reader) (*Manifest, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxManifestBytes))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadManifest reads and checks the manifest at name in fsys, like
// [LoadManifest].
func ReadManifest(fsys fs.FS, name string) (*Manifest, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("hoard: assets: reading manifest: %w", err)
	}
	defer f.Close()
	m, err := LoadManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

func (m *Manifest) validate() error {
	if m.Version != ManifestVersion && m.Version != 1 {
		return fmt.Errorf("%w: version %d, want %d or 1", ErrInvalidManifest, m.Version, ManifestVersion)
	}
	for logical, hashed := range m.Assets {
		if _, _, err := parseEntry(logical, hashed); err != nil {
			return err
		}
	}
	if len(m.Encodings) > 0 && m.Version == 1 {
		return fmt.Errorf("%w: encodings in a version 1 manifest", ErrInvalidManifest)
	}
	for logical, list := range m.Encodings {
		if _, ok := m.Assets[logical]; !ok {
			return fmt.Errorf("%w: encodings of %q, which is not an asset", ErrInvalidManifest, logical)
		}
		for i, coding := range list {
			if !knownCoding(coding) || slices.Contains(list[:i], coding) {
				return fmt.Errorf("%w: %q: encoding %q is unknown or listed twice", ErrInvalidManifest, logical, coding)
			}
		}
	}
	return nil
}

// parseEntry returns the hash of a manifest entry and the file that holds
// its content: the hashed name under HashInName, the logical name under
// HashInQuery.
func parseEntry(logical, hashed string) (hash, file string, err error) {
	if !validName(logical) || isHidden(logical) {
		return "", "", fmt.Errorf("%w: %q is not a clean relative path", ErrInvalidManifest, logical)
	}
	if h, ok := strings.CutPrefix(hashed, logical+"?v="); ok && isHashHex(h) {
		return h, logical, nil
	}
	a, b := nameHashes(hashed)
	for _, h := range []string{a, b} {
		if h != "" && hashedName(logical, h) == hashed {
			return h, hashed, nil
		}
	}
	return "", "", fmt.Errorf("%w: %q -> %q is not a hashed name of it", ErrInvalidManifest, logical, hashed)
}
