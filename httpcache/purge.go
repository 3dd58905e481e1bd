package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/hoard-cache/hoard"
)

// Purger drops everything a CDN caches under any of some tags (the tags
// sent in [TagHeader] headers). [FastlyPurger] and [CloudflarePurger]
// speak those CDNs' purge-by-tag APIs.
type Purger interface {
	// PurgeTags purges tags; it may send several requests (CDNs bound the
	// tags of one), and returns an error naming those that failed.
	PurgeTags(ctx context.Context, tags ...string) error
}

// PurgerFunc adapts a function to a [Purger].
type PurgerFunc func(ctx context.Context, tags ...string) error

// PurgeTags calls f(ctx, tags...).
func (f PurgerFunc) PurgeTags(ctx context.Context, tags ...string) error { return f(ctx, tags...) }

// PurgingOptions configure a [PurgingInvalidator].
type PurgingOptions struct {
	// Invalidator drops the tagged entries from hoard's tiers on every
	// instance. Required.
	Invalidator *hoard.Invalidator

	// Purgers purge the same tags from CDNs, after the Invalidator has
	// done so here. Required: at least one.
	Purgers []Purger

	// Tags, when set, picks the tags sent to the CDNs (those in the
	// TagHeaders of the endpoints). Default: all.
	Tags func(tag string) bool
}

// PurgingInvalidator invalidates tags in hoard, then purges them from
// CDNs: the hook that makes a tag invalidation reach every layer that
// caches the page but the browser, which revalidates on its own terms.
//
// The order matters: a CDN purged first could refetch the page from an
// instance still holding the old one. hoard's invalidation is done when
// InvalidateTags returns on this instance, and on the others when its
// bus message arrives (at once) or, without a Bus, within the
// Invalidator's MaxStaleness: give it a Bus, or a CDN may refill from an
// instance that has not heard yet.
type PurgingInvalidator struct {
	inv     *hoard.Invalidator
	purgers []Purger
	filter  func(string) bool
}

// NewPurgingInvalidator returns the invalidator configured by options
// (copied).
func NewPurgingInvalidator(options *PurgingOptions) (*PurgingInvalidator, error) {
	switch {
	case options == nil || options.Invalidator == nil:
		return nil, fmt.Errorf("%w: httpcache: purging invalidator: Invalidator is required", hoard.ErrInvalidOption)
	case len(options.Purgers) == 0 || slices.Contains(options.Purgers, nil):
		return nil, fmt.Errorf("%w: httpcache: purging invalidator: Purgers are required, and none may be nil", hoard.ErrInvalidOption)
	}
	return &PurgingInvalidator{inv: options.Invalidator, purgers: slices.Clone(options.Purgers), filter: options.Tags}, nil
}

// InvalidateTags invalidates tags with the Invalidator, then purges them
// (those Options.Tags picks) from every CDN. When the invalidation here
// fails, no CDN is purged (it would refill from the old pages): the
// error is returned, and a retry does both. Purge failures are returned
// joined, after every purger was tried.
func (p *PurgingInvalidator) InvalidateTags(ctx context.Context, tags ...string) error {
	if err := p.inv.InvalidateTags(ctx, tags...); err != nil {
		return err
	}
	sent := tags
	if p.filter != nil {
		sent = nil
		for _, t := range tags {
			if p.filter(t) {
				sent = append(sent, t)
			}
		}
	}
	if len(sent) == 0 {
		return nil
	}
	var errs []error
	for _, pg := range p.purgers {
		errs = append(errs, pg.PurgeTags(ctx, sent...))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hoard: tags invalidated in hoard, but a CDN purge failed: %w", err)
	}
	return nil
}

// ErrPurge reports a purge the CDN's API refused or failed.
var ErrPurge = errors.New("hoard: CDN purge failed")

// batches splits tags into runs of at most n.
func batches(tags []string, n int) [][]string {
	var out [][]string
	for len(tags) > n {
		out = append(out, tags[:n])
		tags = tags[n:]
	}
	if len(tags) > 0 {
		out = append(out, tags)
	}
	return out
}

// checkResponse turns a purge API's answer into an error when it is not
// a 2xx, with the start of its body.
func checkResponse(api string, res *http.Response) error {
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s: %q", ErrPurge, api, res.Status, body)
	}
	return nil
}
