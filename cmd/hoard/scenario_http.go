package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type httpData struct {
	Requests        int64  `json:"requests"`
	Renders         int64  `json:"renders"` // handler runs, one database query each
	Hits            int64  `json:"x_cache_hit"`
	Misses          int64  `json:"x_cache_miss"`
	Stale           int64  `json:"x_cache_stale"`
	NotModified     int64  `json:"not_modified_304"`
	BytesSaved      int64  `json:"bytes_saved_by_304"`
	P50             string `json:"request_p50"`
	P99             string `json:"request_p99"`
	Updates         int    `json:"updates"`
	StalePages      int64  `json:"stale_pages_after_invalidation"`
	StaleInBusDelay int64  `json:"stale_pages_before_buses_caught_up"`
	ETagReused      int64  `json:"changed_pages_with_old_etag"`
	BusGrace        string `json:"bus_grace"`
}

// clientsPerInstance is how many browsers the HTTP scenario runs per
// instance; each asks any instance.
const clientsPerInstance = 4

// hotPages is how many of the most visited products the writer changes in
// turn: pages that clients hold and revalidate.
const hotPages = 10

// runHTTP serves product pages through httpcache on every instance, over
// loopback HTTP, to browsers that revalidate with If-None-Match, while a
// writer changes hot products and invalidates their pages by tag. A page
// (a body, or a 304 confirming the client's copy) older than the
// revision whose invalidation had returned, and reached every instance,
// when the request began is a stale page.
func runHTTP(ctx context.Context, e *env, p progress) (*result, error) {
	f, err := e.newPageFleet()
	defer func() { _ = f.Close() }()
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: clientsPerInstance * len(e.instances)}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	revs := newRevisions(e.cfg.products)
	var requests atomic.Int64
	stop := p.start("HTTP pages (ETags, 304s)", func() string {
		return fmt.Sprintf("requests %s  renders %s", fmtInt(requests.Load()), fmtInt(f.renders.Load()))
	})
	runCtx, cancel := context.WithTimeout(ctx, e.cfg.duration)
	defer cancel()
	var (
		mu    sync.Mutex
		total tally
		errs  []error
		wg    sync.WaitGroup
	)
	for n := range clientsPerInstance * len(e.instances) {
		wg.Go(func() {
			var mine tally
			err := e.browse(runCtx, f, client, n, revs, &mine, &requests)
			mu.Lock()
			defer mu.Unlock()
			total.merge(&mine)
			errs = append(errs, err)
		})
	}
	updates, werr := e.updatePages(runCtx, revs, e.cfg.duration/40)
	wg.Wait()
	stop()
	if err := errors.Join(append(errs, werr)...); err != nil {
		return nil, err
	}
	d := httpData{
		Requests: total.requests, Renders: f.renders.Load(),
		Hits: total.hits, Misses: total.misses, Stale: total.stale,
		NotModified: total.notModified, BytesSaved: total.bytesSaved,
		P50: fmtDuration(total.lat.quantile(0.5)), P99: fmtDuration(total.lat.quantile(0.99)),
		Updates: updates, StalePages: total.staleSettled, StaleInBusDelay: total.staleWindow,
		ETagReused: total.etagReused, BusGrace: busGrace.String(),
	}
	r := &result{
		Title: fmt.Sprintf("6. HTTP caching with ETags: product pages through httpcache on %d instances (loopback HTTP), %d browsers revalidating with If-None-Match (half their requests revisits, the rest Zipf, s=%.1f), %v; %d pages changed and invalidated by tag",
			len(e.instances), clientsPerInstance*len(e.instances), zipfS, e.cfg.duration, updates),
		Data: d,
		header: []string{"requests", "renders (DB)", "HIT", "MISS", "STALE", "304s", "bytes saved",
			"p50", "p99", "stale pages", "in bus delay"},
	}
	r.row(d.Requests, d.Renders, d.Hits, d.Misses, d.Stale, d.NotModified, d.BytesSaved, d.P50, d.P99, d.StalePages, d.StaleInBusDelay)
	r.promise("no client gets an old page (body or 304) once its invalidation returned and the buses caught up (+"+busGrace.String()+")",
		d.StalePages == 0, "%d stale pages; %d more while a bus was still delivering", d.StalePages, d.StaleInBusDelay)
	r.promise("a changed page has a new ETag", d.ETagReused == 0, "%d changed pages with the old ETag", d.ETagReused)
	return r, nil
}

// updatePages changes a hot product every interval until ctx ends, as the
// demo's admin does (catalogue.bump), and invalidates its pages by tag on
// each instance in turn; it publishes the new revision once the
// invalidation returned, then once every bus caught up. A change begun is
// finished even when ctx ends meanwhile, so no page is left stale.
func (e *env) updatePages(ctx context.Context, revs *revisions, every time.Duration) (int, error) {
	every = max(every, 5*time.Millisecond)
	work := context.WithoutCancel(ctx)
	updates := 0
	for i := 0; ; i++ {
		if sleep(ctx, every) != nil {
			return updates, nil
		}
		id := i % min(hotPages, e.cfg.products)
		key := strconv.Itoa(id)
		if err := e.db.bump(work, "id = ?", id); err != nil {
			return updates, err
		}
		row, err := e.db.peek(work, key)
		if err != nil {
			return updates, err
		}
		if err := e.instances[i%len(e.instances)].inv.InvalidateTags(work, e.pageTag(key)); err != nil {
			return updates, err
		}
		revs.returned[id].Store(row.Rev)
		if err := e.settle(work); err != nil {
			return updates, err
		}
		revs.settled[id].Store(row.Rev)
		updates++
	}
}
