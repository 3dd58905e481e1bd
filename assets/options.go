package assets

import (
	"fmt"
	"net/url"
	"strings"
)

// Naming says where an asset's content hash goes in its URL.
type Naming int

const (
	// HashInName puts the hash in the file name, before the extension:
	// css/site.css is served as css/site.3f2a9c1e.css. It is the default,
	// and the safer choice: some proxies and CDNs ignore query strings
	// when they cache.
	HashInName Naming = iota

	// HashInQuery keeps the file name and adds the hash as a query
	// parameter: css/site.css?v=3f2a9c1e. No hashed copies are needed on
	// disk; the handler serves a version it no longer holds with no-cache.
	HashInQuery
)

// String returns "name" or "query".
func (n Naming) String() string {
	switch n {
	case HashInName:
		return "name"
	case HashInQuery:
		return "query"
	}
	return fmt.Sprintf("Naming(%d)", int(n))
}

// Defaults of [Options].
const (
	defaultPrefix   = "/static/"
	defaultHashLen  = 8
	defaultMaxBytes = 256 << 20
)

// Options configure [Build] and [Load]. A nil *Options, or a zero one,
// gives every default.
type Options struct {
	// Prefix is written before every asset URL by [Set.URL] and the
	// template function, and is the path the [Set]'s handler serves under:
	// mount the Set at the Prefix's path, without http.StripPrefix. It may
	// be an absolute URL (a CDN in front of this server), whose path is
	// then what the handler strips. It must end with "/" and carry no query
	// or fragment. A CSS reference that starts with its path
	// (url(/static/img/a.png)) is rewritten too. Default "/static/".
	Prefix string

	// Naming chooses where the hash goes: HashInName (default,
	// css/site.3f2a9c1e.css) or HashInQuery (css/site.css?v=3f2a9c1e).
	Naming Naming

	// HashLen is how many hex digits of the SHA-256 of a file's content
	// name it, from 8 to 64. Default 8 (32 bits: a collision would need two
	// versions of one file to agree, which only makes a browser keep the
	// older one).
	HashLen int

	// MaxBytes bounds the bytes [Build] reads and holds in memory (every
	// asset's content and its compressed copies); a larger tree fails
	// with [ErrTooLarge]. Default 256 MiB.
	MaxBytes int64

	// Skip reports whether the file at name (slash-separated, relative to
	// the root of the file system) is not an asset. Whatever it returns,
	// Build skips hidden files and directories (a name starting with ".")
	// and hashed copies from an earlier build (a name with a hex hash that
	// the content's SHA-256 starts with). Default: skip nothing else.
	Skip func(name string) bool

	// AllowMissing lets Build succeed when a stylesheet references a file
	// that the set does not have (a typo, a file not yet added, one that
	// Skip or a leading dot leaves out): the reference stays as written and
	// [Set.Missing] lists it, for the caller to log. Default false: Build
	// fails with [ErrMissingReference], naming every such reference, as
	// bundlers such as esbuild fail on an import they cannot resolve, since
	// the browser would get a 404 for it. References outside the set
	// (other absolute paths, other hosts, data: URIs) are never missing.
	AllowMissing bool

	// Compress chooses which precompressed copies Build keeps in memory
	// next to each asset's content, for the handler to serve to clients
	// that accept them (see [Compression]). Default CompressNone: Build
	// runs at start-up, where CompressFast costs about 0.1 s per MB of text
	// and core, and CompressBest about 2 s; `hoard assets build` does the
	// latter ahead of time, and [Load] serves the files it wrote.
	Compress Compression

	// Previous are sets this one replaces: their hashed names stay
	// servable, with their own content, as immutable, so a page rendered
	// before a rebuild (or by an older instance in a rolling deploy) still
	// loads. Only the listed sets' own assets are kept, not what they kept
	// in turn, so memory stays bounded by what is listed. Default none.
	Previous []*Set
}

// resolved is a validated copy of Options with defaults filled in.
type resolved struct {
	Options
	prefixPath string // path part of Prefix, starts and ends with "/"
}

func (o *Options) resolve() (*resolved, error) {
	r := &resolved{}
	if o != nil {
		r.Options = *o
		r.Previous = append([]*Set(nil), o.Previous...)
	}
	if r.Prefix == "" {
		r.Prefix = defaultPrefix
	}
	if r.HashLen == 0 {
		r.HashLen = defaultHashLen
	}
	if r.MaxBytes == 0 {
		r.MaxBytes = defaultMaxBytes
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(r.Prefix) // validate parsed it
	r.prefixPath = u.Path
	return r, nil
}

func (r *resolved) validate() error {
	u, err := url.Parse(r.Prefix)
	switch {
	case err != nil:
		return fmt.Errorf("%w: Prefix %q: %v", ErrInvalidOption, r.Prefix, err)
	case !strings.HasSuffix(r.Prefix, "/") || !strings.HasPrefix(u.Path, "/"):
		return fmt.Errorf("%w: Prefix %q: must be a path or URL ending with \"/\"", ErrInvalidOption, r.Prefix)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(r.Prefix, "?#"):
		return fmt.Errorf("%w: Prefix %q: must have no query or fragment", ErrInvalidOption, r.Prefix)
	case r.Naming != HashInName && r.Naming != HashInQuery:
		return fmt.Errorf("%w: Naming %v", ErrInvalidOption, r.Naming)
	case r.HashLen < 8 || r.HashLen > 64:
		return fmt.Errorf("%w: HashLen %d: must be from 8 to 64", ErrInvalidOption, r.HashLen)
	case r.Compress < CompressNone || r.Compress > CompressBest:
		return fmt.Errorf("%w: Compress %v", ErrInvalidOption, r.Compress)
	case r.MaxBytes < 0:
		return fmt.Errorf("%w: MaxBytes %d: must not be negative", ErrInvalidOption, r.MaxBytes)
	}
	for i, p := range r.Previous {
		if p == nil {
			return fmt.Errorf("%w: Previous[%d] is nil", ErrInvalidOption, i)
		}
	}
	return nil
}
