package assets

import (
	"errors"
	"fmt"
)

// MissingRef is a reference in a stylesheet to a file that the set does
// not have: see Options.AllowMissing and [Set.Missing].
type MissingRef struct {
	// Stylesheet is the logical name of the stylesheet, "css/site.css".
	Stylesheet string
	// Line is the 1-based line of the reference in the stylesheet.
	Line int
	// Ref is the reference as written, "../img/bg.png?v#x".
	Ref string
	// Import is true for an @import "..." rule, false for a url(...).
	Import bool
	// Name is the logical name the reference resolves to, "img/bg.png".
	Name string
}

// String returns the reference as the error of [ErrMissingReference]
// names it: `css/site.css:2: url(../img/bg.png): img/bg.png is not in the
// set`.
func (m MissingRef) String() string {
	ref := "url(" + m.Ref + ")"
	if m.Import {
		ref = fmt.Sprintf("%q", m.Ref)
	}
	return fmt.Sprintf("%s:%d: %s: %s is not in the set", m.Stylesheet, m.Line, ref, m.Name)
}

// maxMissingInError bounds how many references the error of Build names.
const maxMissingInError = 20

// missingError returns the error Build fails with for refs (not empty):
// one line per reference, each wrapping ErrMissingReference, at most
// maxMissingInError of them and then how many more there are.
func missingError(refs []MissingRef) error {
	errs := make([]error, 0, min(len(refs), maxMissingInError)+1)
	for i, m := range refs {
		if i == maxMissingInError {
			errs = append(errs, fmt.Errorf("%w: and %d more", ErrMissingReference, len(refs)-i))
			break
		}
		errs = append(errs, fmt.Errorf("%w: %s", ErrMissingReference, m))
	}
	return errors.Join(errs...)
}
