package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// defaultTTL is the Aside's TTL default, the freshness lifetime of
// responses whose headers give none.
const defaultTTL = 5 * time.Minute

// Cache is response-caching middleware for one endpoint, on a
// hoard.Aside of [*Response]: see the package documentation. It is safe
// for concurrent use; Close it to wait for background renders.
type Cache struct {
	aside         *hoard.Aside[*Response]
	key           keySpec
	passed        []string // headers the handler sees when rendering to store
	policy        []string // the rendered CacheControl, nil for none
	statuses      map[int]bool
	maxBody       int
	maxShared     int
	statusHeader  string
	cacheName     string // in Cache-Status
	debug         bool
	authenticated func(*http.Request) bool
	tags          func(*http.Request) []string
	onSkip        func(*http.Request, string)
	carry         func(render, caller context.Context) context.Context
	clock         hoard.Clock
	ttl           time.Duration // Aside.TTL, the heuristic freshness lifetime
	compress      *compressor   // nil: bodies stored as written
	unsafeMethods map[string]bool

	cdnControl       []string // rendered CDNCacheControl, nil for none
	surrogateControl []string // rendered SurrogateControl, nil for none
	tagHeaders       []TagHeader

	onPass      func(http.Header) // passedThrough, made once
	hasMemory   bool              // Aside.Memory is set
	negativeTTL time.Duration     // how long a key stays "pass"; ≤ 0: not at all

	name              string             // Aside.Name
	tagPrefix         string             // of URI tags: the key prefix, else the name
	mode              invalidationMode   // how an unsafe request drops a URI
	inv               *hoard.Invalidator // Aside.Invalidator, nil for none
	onInvalidateError func(*http.Request, error)
}

// New returns the middleware configured by options (copied; the Aside's
// tiers are required, so nil is refused). Bad options give an error
// wrapping hoard.ErrInvalidOption.
func New(options *Options) (*Cache, error) {
	if options == nil {
		return nil, fmt.Errorf("%w: httpcache: nil options (Aside.Memory or Aside.Shared is required)", hoard.ErrInvalidOption)
	}
	opts := *options
	if opts.Aside.Name == "" {
		opts.Aside.Name = defaultName
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Aside.Clock = defaults.Clock(opts.Aside.Clock)
	c := &Cache{
		key:           opts.Key.compile(),
		statuses:      make(map[int]bool),
		maxBody:       opts.MaxBodyBytes,
		maxShared:     opts.MaxSharedBodyBytes,
		statusHeader:  http.CanonicalHeaderKey(opts.StatusHeader),
		cacheName:     opts.CacheStatus,
		debug:         opts.Debug,
		authenticated: opts.Authenticated,
		tags:          opts.Tags,
		onSkip:        opts.OnSkip,
		carry:         opts.RenderContext,
		clock:         opts.Aside.Clock,
		ttl:           opts.Aside.TTL,
		compress:      opts.Compression.compile(),
		unsafeMethods: make(map[string]bool),
		tagHeaders:    slices.Clone(opts.TagHeaders),
		hasMemory:     opts.Aside.Memory != nil,
		negativeTTL:   opts.Aside.NegativeTTL,

		name:              opts.Aside.Name,
		tagPrefix:         opts.Aside.Keys.Prefix(),
		inv:               opts.Aside.Invalidator,
		onInvalidateError: opts.OnInvalidateError,
	}
	if c.tagPrefix == "" {
		c.tagPrefix = c.name
	}
	if c.ttl == 0 {
		c.ttl = defaultTTL
	}
	if c.negativeTTL == 0 {
		c.negativeTTL = defaultNegativeTTL
	}
	if c.maxShared == 0 {
		c.maxShared = defaultMaxSharedBodyBytes
	}
	if c.cacheName == "" {
		c.cacheName = defaultCacheStatus
	}
	unsafe := opts.UnsafeMethods
	if unsafe == nil {
		unsafe = DefaultUnsafeMethods
	}
	for _, m := range unsafe {
		c.unsafeMethods[m] = true
	}
	if !opts.CDNCacheControl.IsZero() {
		c.cdnControl = []string{opts.CDNCacheControl.String()}
	}
	if !opts.SurrogateControl.IsZero() {
		c.surrogateControl = []string{opts.SurrogateControl.String()}
	}
	opts.Aside.Shared = c.wrapShared(opts.Aside.Shared)
	aside, err := hoard.NewAside(&opts.Aside)
	if err != nil {
		return nil, fmt.Errorf("httpcache: %w", err)
	}
	c.aside = aside
	c.onPass = c.passedThrough
	switch {
	case !c.key.hasVariants():
		c.mode = invalidateExact
	case c.inv != nil:
		c.mode = invalidateTag
	default:
		c.mode = invalidatePrefix
	}
	c.passed = c.key.passedHeaders()
	if !opts.CacheControl.IsZero() {
		c.policy = []string{opts.CacheControl.String()}
	}
	statuses := opts.Statuses
	if statuses == nil {
		statuses = defaultStatuses
	}
	for _, s := range statuses {
		c.statuses[s] = true
	}
	if c.maxBody == 0 {
		c.maxBody = defaultMaxBodyBytes
	}
	if c.statusHeader == "" {
		c.statusHeader = defaultStatusHeader
	}
	if opts.HideStatus {
		c.statusHeader = ""
	}
	if c.authenticated == nil {
		c.authenticated = defaultAuthenticated
	}
	return c, nil
}

// Middleware wraps next with the cache: it has the type of standard
// middleware, func(http.Handler) http.Handler, for net/http, chi and any
// router that takes it.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(w, r, next) })
}

// Aside returns the cache-aside the responses are stored in, for its
// metrics, Delete and Close.
func (c *Cache) Aside() *hoard.Aside[*Response] { return c.aside }

// Close waits until background renders (early refreshes, loads past a
// soft timeout) have finished, or ctx ends.
func (c *Cache) Close(ctx context.Context) error { return c.aside.Close(ctx) }

// idBuffers are reused buffers for building ids.
var idBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}
