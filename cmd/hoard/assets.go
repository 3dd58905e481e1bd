package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hoard-cache/hoard/assets"
)

const assetsUsage = `usage: hoard assets build [flags] DIR
       hoard assets ls MANIFEST

build fingerprints every file under DIR by the SHA-256 of its content
(stylesheets after their url()s and @imports are rewritten to the hashed
names), writes each file's hashed copy next to it (css/site.css ->
css/site.3f2a9c1e.css) and the manifest to DIR/manifest.json. Sources are
never modified, and hashed copies from earlier builds are left in place, so
an instance still serving the previous manifest, or a page it rendered,
keeps working during a rolling deploy; assets.Load serves the result.
With -out, DIR is left untouched: every file is copied into the output
directory under its logical name (stylesheets rewritten) and its hashed
name, with the manifest there. Running build again is cheap and changes
nothing when no file changed.

Each copy of an asset that compresses (not PNG, JPEG, WOFF2, archives, nor
a file under 512 bytes) gets a brotli and a gzip copy beside it,
css/site.3f2a9c1e.css.br and .gz, kept when at least a tenth smaller and
listed in the manifest; assets.Load serves them to clients that accept
them. -compress fast is quicker, -compress none writes none.

A url() or @import in a stylesheet that points at a file DIR does not have
fails the build, naming each one; with -allow-missing they are left as
written and printed as warnings.

ls prints a manifest's logical names and their hashed names, sorted.

build flags:
`

// assetsCommand runs "hoard assets ...": 0 when done, 1 when the work
// failed, 2 for a usage error.
func assetsCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, assetsUsage)
		return 2
	}
	switch args[0] {
	case "build":
		return assetsBuild(args[1:], stdout, stderr)
	case "ls":
		return assetsLs(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, assetsUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "hoard assets: unknown command %q\n\n%s", args[0], assetsUsage)
		return 2
	}
}

// buildConfig is what "hoard assets build" was asked to do.
type buildConfig struct {
	dir      string // the sources
	out      string // where copies go: dir unless -out
	manifest string // the manifest's path
	opts     assets.Options
}

func assetsBuild(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("hoard assets build", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprint(stderr, assetsUsage)
		fset.PrintDefaults()
	}
	var cfg buildConfig
	query := false
	fset.StringVar(&cfg.manifest, "o", "", "`path` of the manifest to write (default DIR/manifest.json, or OUT/manifest.json with -out)")
	fset.StringVar(&cfg.out, "out", "", "write the logical and hashed copies into this `directory` instead of next to the sources")
	fset.BoolVar(&query, "query", false, "put the hash in a ?v= query parameter instead of the file name (needs -out)")
	fset.IntVar(&cfg.opts.HashLen, "hash-len", 8, "hex `digits` of SHA-256 in a hashed name, 8 to 64")
	fset.StringVar(&cfg.opts.Prefix, "prefix", "/static/", "URL `prefix` the assets are served under; url(PREFIX...) in CSS is rewritten too")
	compress := "best"
	fset.StringVar(&compress, "compress", compress, "precompressed `level` of the .br and .gz copies: best (brotli 11, gzip 9), fast (brotli 5, gzip 6) or none")
	fset.BoolVar(&cfg.opts.AllowMissing, "allow-missing", false, "build even when a stylesheet references a file DIR does not have, with a warning for each")
	var pos []string
	for { // flags may come before or after DIR
		if err := fset.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fset.NArg() == 0 {
			break
		}
		pos = append(pos, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "hoard assets build: want one DIR, got %d arguments\n", len(pos))
		fset.Usage()
		return 2
	}
	cfg.dir = pos[0]
	switch compress {
	case "best":
		cfg.opts.Compress = assets.CompressBest
	case "fast":
		cfg.opts.Compress = assets.CompressFast
	case "none":
		cfg.opts.Compress = assets.CompressNone
	default:
		fmt.Fprintf(stderr, "hoard assets build: -compress %q: want best, fast or none\n", compress)
		return 2
	}
	if query {
		if cfg.out == "" {
			fmt.Fprintln(stderr, "hoard assets build: -query needs -out: the rewritten stylesheets must be served under their logical names")
			return 2
		}
		cfg.opts.Naming = assets.HashInQuery
	}
	res, err := buildAssets(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "hoard assets build: %v\n", err)
		if errors.Is(err, assets.ErrMissingReference) {
			fmt.Fprintln(stderr, "hoard assets build: add the files, fix the references, or build anyway with -allow-missing")
		}
		return 1
	}
	for _, m := range res.missing {
		fmt.Fprintf(stderr, "hoard assets build: warning: %s\n", m)
	}
	fmt.Fprintf(stdout, "%d assets from %s: %d files written, manifest %s\n", res.assets, cfg.dir, res.written, cfg.manifest)
	for _, c := range res.compressed {
		fmt.Fprintf(stdout, "%s: %d assets, %d bytes -> %d (%.0f%% smaller)\n", c.coding, c.assets, c.before, c.after, 100-100*float64(c.after)/float64(c.before))
	}
	return 0
}

// buildResult is what one "hoard assets build" did.
type buildResult struct {
	assets     int                 // assets in the manifest
	written    int                 // files written (unchanged ones are not)
	missing    []assets.MissingRef // references left as written, -allow-missing
	compressed []compressedTotal   // per coding, in the manifest's order
}

// compressedTotal sums up the compressed copies of one coding.
type compressedTotal struct {
	coding        string
	assets        int   // assets with a copy
	before, after int64 // their bytes, and their copies'
}

// buildAssets builds cfg.dir and writes the copies and the manifest.
func buildAssets(cfg *buildConfig) (*buildResult, error) {
	info, err := os.Stat(cfg.dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", cfg.dir)
	}
	dest := cfg.dir
	if cfg.out != "" {
		dest = cfg.out
	}
	if cfg.manifest == "" {
		cfg.manifest = filepath.Join(dest, "manifest.json")
	}
	// What this build writes inside DIR is not an asset.
	skipFile, skipDir := inside(cfg.dir, cfg.manifest), ""
	if cfg.out != "" {
		skipDir = inside(cfg.dir, cfg.out)
	}
	cfg.opts.Skip = func(name string) bool {
		return name == skipFile || skipDir == "." || (skipDir != "" && (name == skipDir || strings.HasPrefix(name, skipDir+"/")))
	}
	set, err := assets.Build(os.DirFS(cfg.dir), &cfg.opts)
	if err != nil {
		return nil, err
	}
	res := &buildResult{missing: set.Missing()}
	m := set.Manifest()
	for _, logical := range m.Names() {
		names := []string{}
		if cfg.out != "" {
			names = append(names, logical)
		}
		if cfg.opts.Naming == assets.HashInName {
			names = append(names, m.Assets[logical])
		}
		data, err := set.Content(logical)
		if err != nil {
			return nil, err
		}
		files := map[string][]byte{}
		for _, name := range names {
			files[name] = data
		}
		for _, coding := range m.Encodings[logical] {
			enc, err := set.Encoded(logical, coding)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				files[assets.EncodedName(name, coding)] = enc
			}
			res.count(coding, len(data), len(enc))
		}
		for _, name := range slices.Sorted(maps.Keys(files)) { // the manifest, last, makes them live
			w, err := writeIfChanged(filepath.Join(dest, filepath.FromSlash(name)), files[name])
			if err != nil {
				return nil, err
			}
			if w {
				res.written++
			}
		}
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, err
	}
	w, err := writeIfChanged(cfg.manifest, buf.Bytes())
	if err != nil {
		return nil, err
	}
	if w {
		res.written++
	}
	res.assets = len(m.Assets)
	return res, nil
}

// count adds a copy in coding, of size n, of an asset of size orig.
func (r *buildResult) count(coding string, orig, n int) {
	i := slices.IndexFunc(r.compressed, func(c compressedTotal) bool { return c.coding == coding })
	if i < 0 {
		r.compressed = append(r.compressed, compressedTotal{coding: coding})
		i = len(r.compressed) - 1
	}
	c := &r.compressed[i]
	c.assets++
	c.before += int64(orig)
	c.after += int64(n)
}

// inside returns path relative to dir, slash-separated, when it lies
// inside dir, else "".
func inside(dir, path string) string {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// writeIfChanged writes data to path unless the file already holds it,
// and reports whether it wrote. It writes a temporary file and renames it,
// so a server reading the directory never sees half a file.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hoard-*")
	if err != nil {
		return false, err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return false, err
	}
	return true, nil
}

func assetsLs(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, assetsUsage)
		return 2
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "hoard assets ls: %v\n", err)
		return 1
	}
	defer f.Close()
	m, err := assets.LoadManifest(f)
	if err != nil {
		fmt.Fprintf(stderr, "hoard assets ls: %s: %v\n", args[0], err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', 0)
	for _, name := range m.Names() {
		fmt.Fprintf(tw, "%s\t→ %s\n", name, m.Assets[name])
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "hoard assets ls: %v\n", err)
		return 1
	}
	return 0
}
