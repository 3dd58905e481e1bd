package httpcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hoard-cache/hoard"
)

// FastlyOptions configure a [FastlyPurger].
type FastlyOptions struct {
	// ServiceID is the Fastly service purged. Required.
	ServiceID string
	// Token is an API token with the purge_select scope, sent as
	// Fastly-Key. Required.
	Token string
	// Soft marks content stale instead of removing it (Fastly-Soft-Purge),
	// so Fastly can still serve it stale while it refetches.
	Soft bool
	// Endpoint is the API's base URL. Default: "https://api.fastly.com".
	Endpoint string
	// Client sends the requests. Default: http.DefaultClient.
	Client *http.Client
}

// FastlyPurger purges surrogate keys (the [SurrogateKey] header's tags)
// with Fastly's batch purge: POST /service/{id}/purge with
// {"surrogate_keys": [...]}, 256 keys at most per request.
type FastlyPurger struct {
	opts FastlyOptions
	url  string
}

var _ Purger = (*FastlyPurger)(nil)

// fastlyBatch is how many keys Fastly purges in one request.
const fastlyBatch = 256

// NewFastlyPurger returns a purger configured by options (copied).
func NewFastlyPurger(options *FastlyOptions) (*FastlyPurger, error) {
	if options == nil || options.ServiceID == "" || options.Token == "" {
		return nil, fmt.Errorf("%w: httpcache: Fastly purger: ServiceID and Token are required", hoard.ErrInvalidOption)
	}
	o := *options
	if o.Endpoint == "" {
		o.Endpoint = "https://api.fastly.com"
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	return &FastlyPurger{opts: o, url: strings.TrimSuffix(o.Endpoint, "/") + "/service/" + url.PathEscape(o.ServiceID) + "/purge"}, nil
}

// PurgeTags purges the keys, in batches of 256.
func (p *FastlyPurger) PurgeTags(ctx context.Context, tags ...string) error {
	var errs []error
	for _, batch := range batches(tags, fastlyBatch) {
		body, _ := json.Marshal(struct {
			Keys []string `json:"surrogate_keys"`
		}{batch})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("%w: Fastly: %w", ErrPurge, err)
		}
		req.Header.Set("Fastly-Key", p.opts.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if p.opts.Soft {
			req.Header.Set("Fastly-Soft-Purge", "1")
		}
		res, err := p.opts.Client.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: Fastly, keys %q: %w", ErrPurge, batch, err))
			continue
		}
		if err := checkResponse("Fastly", res); err != nil {
			errs = append(errs, fmt.Errorf("keys %q: %w", batch, err))
		}
	}
	return errors.Join(errs...)
}

// CloudflareOptions configure a [CloudflarePurger].
type CloudflareOptions struct {
	// ZoneID is the Cloudflare zone purged. Required.
	ZoneID string
	// Token is an API token with the Cache Purge permission, sent as a
	// bearer token. Required.
	Token string
	// MaxTagsPerRequest bounds the tags of one purge request: Cloudflare
	// takes 30 on most plans, 100 on some. Default: 30.
	MaxTagsPerRequest int
	// Endpoint is the API's base URL. Default:
	// "https://api.cloudflare.com/client/v4".
	Endpoint string
	// Client sends the requests. Default: http.DefaultClient.
	Client *http.Client
}

// CloudflarePurger purges cache tags (the [CacheTag] header's) with
// Cloudflare's purge by tag: POST /zones/{id}/purge_cache with
// {"tags": [...]}.
type CloudflarePurger struct {
	opts CloudflareOptions
	url  string
}

var _ Purger = (*CloudflarePurger)(nil)

// NewCloudflarePurger returns a purger configured by options (copied).
func NewCloudflarePurger(options *CloudflareOptions) (*CloudflarePurger, error) {
	if options == nil || options.ZoneID == "" || options.Token == "" {
		return nil, fmt.Errorf("%w: httpcache: Cloudflare purger: ZoneID and Token are required", hoard.ErrInvalidOption)
	}
	o := *options
	if o.MaxTagsPerRequest < 0 {
		return nil, fmt.Errorf("%w: httpcache: Cloudflare purger: MaxTagsPerRequest %d is negative", hoard.ErrInvalidOption, o.MaxTagsPerRequest)
	}
	if o.MaxTagsPerRequest == 0 {
		o.MaxTagsPerRequest = 30
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://api.cloudflare.com/client/v4"
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	return &CloudflarePurger{opts: o, url: strings.TrimSuffix(o.Endpoint, "/") + "/zones/" + url.PathEscape(o.ZoneID) + "/purge_cache"}, nil
}

// PurgeTags purges the tags, MaxTagsPerRequest at a time.
func (p *CloudflarePurger) PurgeTags(ctx context.Context, tags ...string) error {
	var errs []error
	for _, batch := range batches(tags, p.opts.MaxTagsPerRequest) {
		if err := p.purge(ctx, batch); err != nil {
			errs = append(errs, fmt.Errorf("tags %q: %w", batch, err))
		}
	}
	return errors.Join(errs...)
}

func (p *CloudflarePurger) purge(ctx context.Context, tags []string) error {
	body, _ := json.Marshal(struct {
		Tags []string `json:"tags"`
	}{tags})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: Cloudflare: %w", ErrPurge, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.opts.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := p.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: Cloudflare: %w", ErrPurge, err)
	}
	defer res.Body.Close()
	var answer struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	decodeErr := json.NewDecoder(http.MaxBytesReader(nil, res.Body, 1<<16)).Decode(&answer)
	switch {
	case res.StatusCode/100 != 2 || !answer.Success:
		return fmt.Errorf("%w: Cloudflare answered %s: %+v", ErrPurge, res.Status, answer.Errors)
	case decodeErr != nil:
		return fmt.Errorf("%w: Cloudflare's answer: %w", ErrPurge, decodeErr)
	}
	return nil
}
