package assets

import "errors"

// Sentinel errors. Every error this package returns wraps one of these (or
// an error from the file system it reads), so callers match with
// [errors.Is].
var (
	// ErrUnknownAsset reports a logical name that is not in the set, as in
	// `hoard: assets: unknown asset "css/nope.css"`. [Set.URL] and the
	// template function return it, so a typo fails template execution.
	ErrUnknownAsset = errors.New("hoard: assets: unknown asset")

	// ErrCycle reports CSS files that reference each other in a loop, so
	// that no file's hash can be computed before the others'. The error
	// names the loop: "a.css -> b.css -> a.css".
	ErrCycle = errors.New("hoard: assets: CSS reference cycle")

	// ErrInvalidManifest reports a manifest that does not decode, has an
	// unknown version, holds a name that is not a clean relative path, or
	// names a file that the file system does not have.
	ErrInvalidManifest = errors.New("hoard: assets: invalid manifest")

	// ErrInvalidOption reports a bad field in [Options].
	ErrInvalidOption = errors.New("hoard: assets: invalid option")

	// ErrMissingReference reports a url(...) or @import in a stylesheet that
	// points at a file the set does not have (missing, hidden or skipped),
	// as in `hoard: assets: reference to a missing file: css/site.css:2:
	// url(../img/bg.png): img/bg.png is not in the set`. [Build] fails with
	// it, naming every such reference, unless Options.AllowMissing is set;
	// then [Set.Missing] lists them.
	ErrMissingReference = errors.New("hoard: assets: reference to a missing file")

	// ErrTooLarge reports a set of files larger than Options.MaxBytes, the
	// bound on what [Build] holds in memory.
	ErrTooLarge = errors.New("hoard: assets: too large")
)
