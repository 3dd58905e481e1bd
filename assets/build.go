package assets

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Build reads every file of fsys (an embed.FS, an os.DirFS, an fs.Sub of
// either) and returns the [Set] of them, fingerprinted: each file's hashed
// name comes from the SHA-256 of its content, never from a timestamp, so
// every build of the same files gives the same names on every machine.
//
// Stylesheets (.css) are rewritten first: each url(...) and @import that
// points at another file of the set is replaced by that file's hashed URL
// (see the package doc for what is left alone), and the stylesheet is
// hashed after that, so changing an image changes the hash of every
// stylesheet that uses it. Stylesheets are processed in dependency order;
// a loop of them fails with [ErrCycle]. A reference to a file that the set
// does not have fails with [ErrMissingReference], unless
// Options.AllowMissing is set (see [Set.Missing]).
//
// Build holds every file's content in memory, bounded by Options.MaxBytes,
// so what the Set serves under a hashed name is always exactly what was
// hashed, even if the files change on disk before the next Build. It skips
// hidden files, hashed copies left by an earlier build (they stay servable,
// see [Set.ServeHTTP]) and what Options.Skip says. A nil opts gives every
// default.
func Build(fsys fs.FS, opts *Options) (*Set, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	t, err := readTree(fsys, o)
	if err != nil {
		return nil, err
	}
	b := &builder{o: o, tree: t, files: t.files, assets: make(map[string]*asset, len(t.files)), state: map[string]int{}}
	for _, name := range slices.Sorted(maps.Keys(t.files)) {
		if err := b.visit(name, nil); err != nil {
			return nil, err
		}
	}
	if err := b.compress(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(b.missing, func(x, y MissingRef) int {
		return strings.Compare(x.Stylesheet, y.Stylesheet) // each one's in order of lines
	})
	if len(b.missing) > 0 && !o.AllowMissing {
		return nil, missingError(b.missing)
	}
	s := newSet(o, b.assets, fsys)
	s.missing = b.missing
	return s, nil
}

// tree is what readTree found in a file system.
type tree struct {
	files   map[string][]byte // the sources, by logical name
	outputs map[string]bool   // hashed copies of an earlier build, by name
	total   int64             // bytes in files and outputs
}

// readTree reads every asset of fsys into memory.
func readTree(fsys fs.FS, o *resolved) (*tree, error) {
	t := &tree{files: map[string][]byte{}, outputs: map[string]bool{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || (o.Skip != nil && o.Skip(name)) || t.isEncodedOutput(name) {
			return nil
		}
		if !d.Type().IsRegular() { // a symlink counts when it leads to a regular file
			info, err := fs.Stat(fsys, name)
			if err != nil || !info.Mode().IsRegular() {
				return nil
			}
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if t.total += int64(len(data)); t.total > o.MaxBytes {
			return fmt.Errorf("%w: more than MaxBytes (%d) in the files to build", ErrTooLarge, o.MaxBytes)
		}
		if isBuildOutput(name, sum(data)) {
			t.outputs[name] = true
		} else {
			t.files[name] = data
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hoard: assets: reading files: %w", err)
	}
	return t, nil
}

// isEncodedOutput reports whether name is the compressed copy of a hashed
// copy from an earlier build ("css/site.3f2a9c1e.css.br"), which is not an
// asset either. WalkDir visits a file before its copies ("x.css" sorts
// before "x.css.br"), so its hashed copy is known by then.
func (t *tree) isEncodedOutput(name string) bool {
	for _, c := range codings {
		if base, ok := strings.CutSuffix(name, c.suffix); ok && t.outputs[base] {
			return true
		}
	}
	return false
}

// builder computes the assets of one Build.
type builder struct {
	o       *resolved
	tree    *tree
	files   map[string][]byte // the sources, by logical name
	assets  map[string]*asset // the finished assets, by logical name
	state   map[string]int    // visiting or done, by logical name
	missing []MissingRef      // references to files not in the set, in order
}

const (
	visiting = 1
	done     = 2
)

// visit finishes the asset name after the stylesheets it references;
// stack is the chain of stylesheets that led to it, for the cycle error.
func (b *builder) visit(name string, stack []string) error {
	switch b.state[name] {
	case done:
		return nil
	case visiting:
		i := slices.Index(stack, name)
		loop := append(slices.Clone(stack[i:]), name)
		return fmt.Errorf("%w: %s", ErrCycle, strings.Join(loop, " -> "))
	}
	data := b.files[name]
	if !isCSS(name) {
		b.assets[name] = b.newAsset(name, data)
		b.state[name] = done
		return nil
	}
	b.state[name] = visiting
	stack = append(stack, name)
	refs := scanCSS(data)
	line, lineAt := 1, 0
	for _, r := range refs {
		ref := string(data[r.start:r.end])
		t, ok := resolveRef(name, ref, b.o.prefixPath)
		if !ok {
			continue // not a file of the set
		}
		if _, known := b.files[t.logical]; known {
			if err := b.visit(t.logical, stack); err != nil {
				return err
			}
			continue
		}
		if b.tree.outputs[t.logical] {
			continue // a hashed copy on disk, served as it is
		}
		line += bytes.Count(data[lineAt:r.start], []byte("\n"))
		lineAt = r.start
		b.missing = append(b.missing, MissingRef{Stylesheet: name, Line: line, Ref: ref, Import: r.isImport, Name: t.logical})
	}
	out := rewriteCSS(data, refs, func(ref string) (string, bool) {
		t, ok := resolveRef(name, ref, b.o.prefixPath)
		if !ok {
			return "", false
		}
		dep := b.assets[t.logical]
		if dep == nil {
			return "", false // missing, or a hashed copy: leave it alone
		}
		return rewriteRef(t, dep.hash, b.o.Naming)
	})
	b.assets[name] = b.newAsset(name, out)
	b.state[name] = done
	return nil
}

func (b *builder) newAsset(name string, data []byte) *asset {
	full := sum(data)
	hash := full[:b.o.HashLen]
	a := &asset{logical: name, hash: hash, etag: etagOf(full), data: data, file: name, ctype: contentType(name, data)}
	if b.o.Naming == HashInQuery {
		a.hashed = queryName(name, hash)
	} else {
		a.hashed = hashedName(name, hash)
	}
	return a
}

// compress gives every asset the compressed copies Options.Compress asks
// for, on as many goroutines as GOMAXPROCS, and fails with ErrTooLarge
// once they would take the bytes held past Options.MaxBytes.
func (b *builder) compress() error {
	if b.o.Compress == CompressNone {
		return nil
	}
	var (
		total atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error // guarded by mu
	)
	total.Store(b.tree.total)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, name := range slices.Sorted(maps.Keys(b.assets)) {
		a := b.assets[name]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if total.Load() > b.o.MaxBytes {
				return // failed already
			}
			vs, err := compressAsset(a, b.o.Compress)
			for _, v := range vs {
				if total.Add(v.size) > b.o.MaxBytes && err == nil {
					err = fmt.Errorf("%w: more than MaxBytes (%d) in the files and their compressed copies", ErrTooLarge, b.o.MaxBytes)
				}
			}
			a.variants = vs
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
