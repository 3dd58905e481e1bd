package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// The HTTP scenario's clients: each one a browser that keeps the pages it
// got with their ETags and revalidates them with If-None-Match.

// revisions are, per product id, the revision the writer changed the
// product to, published at two moments.
type revisions struct {
	// returned: once InvalidateTags of its pages returned (on the
	// instance that called it).
	returned []atomic.Int64
	// settled: once, moreover, every instance's bus had caught up.
	settled []atomic.Int64
}

func newRevisions(products int) *revisions {
	return &revisions{returned: make([]atomic.Int64, products), settled: make([]atomic.Int64, products)}
}

// tally is what one client saw; merged at the end.
type tally struct {
	requests, hits, misses, stale, notModified, bytesSaved int64
	// staleSettled counts pages (bodies or 304s) older than the revision
	// settled when the request began; staleWindow those older than the
	// revision returned, but not than the settled one.
	staleSettled, staleWindow int64
	// etagReused counts pages whose revision changed but whose ETag did not.
	etagReused int64
	lat        latencies
}

func (t *tally) merge(o *tally) {
	t.requests += o.requests
	t.hits += o.hits
	t.misses += o.misses
	t.stale += o.stale
	t.notModified += o.notModified
	t.bytesSaved += o.bytesSaved
	t.staleSettled += o.staleSettled
	t.staleWindow += o.staleWindow
	t.etagReused += o.etagReused
	t.lat.merge(&o.lat)
}

// kept is a page as a browser keeps it.
type kept struct {
	etag string
	rev  int64
	size int
}

// browse is client n: until ctx ends, it asks a random instance for a
// product page (as HTML, or JSON for odd n): half the time one it holds
// already (a revisit), else a Zipf-distributed one; it sends
// If-None-Match for the pages it holds, and checks every answer's revision
// against the revisions published when the request began. requests counts
// its requests for the progress line.
func (e *env) browse(ctx context.Context, f *pageFleet, client *http.Client, n int, revs *revisions, t *tally, requests *atomic.Int64) error {
	r := rand.New(rand.NewPCG(uint64(n), 8))
	z := rand.NewZipf(r, zipfS, 1, uint64(e.cfg.products-1))
	query := ""
	if n%2 == 1 {
		query = "?format=json"
	}
	pages := map[uint64]kept{}
	var held []uint64 // the keys of pages
	for ctx.Err() == nil {
		id := z.Uint64()
		if len(held) > 0 && r.IntN(2) == 0 {
			id = held[r.IntN(len(held))]
		}
		url := f.servers[r.IntN(len(f.servers))].URL + "/products/" + strconv.FormatUint(id, 10) + query
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Host = pageHost
		old, known := pages[id]
		if known {
			req.Header.Set("If-None-Match", old.etag)
		}
		settled, returned := revs.settled[id].Load(), revs.returned[id].Load()
		began := time.Now()
		status, header, body, err := fetch(client, req)
		if ctx.Err() != nil {
			return nil // a request cut short by the end of the run
		}
		if err != nil {
			return err
		}
		t.lat.observe(time.Since(began))
		t.requests++
		requests.Add(1)
		switch header.Get("X-Cache") {
		case "HIT":
			t.hits++
		case "MISS":
			t.misses++
		case "STALE":
			t.stale++
		}
		var rev int64
		switch {
		case status == http.StatusNotModified && known:
			t.notModified++
			t.bytesSaved += int64(old.size)
			rev = old.rev
		case status == http.StatusOK:
			if rev = pageRev(body); rev < 0 {
				return fmt.Errorf("GET %s: a page without a revision: %.80q", url, body)
			}
			etag := header.Get("Etag")
			if known && rev != old.rev && etag == old.etag {
				t.etagReused++
			}
			if !known {
				held = append(held, id)
			}
			pages[id] = kept{etag: etag, rev: rev, size: len(body)}
		default:
			return fmt.Errorf("GET %s: %d %.80q", url, status, body)
		}
		switch {
		case rev < settled:
			t.staleSettled++
		case rev < returned:
			t.staleWindow++
		}
	}
	return nil
}

// fetch sends req and reads the whole answer.
func fetch(client *http.Client, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}
