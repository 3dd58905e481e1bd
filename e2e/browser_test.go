package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// findBrowser returns the Chromium to drive: $HOARD_CHROMIUM, else the first
// of chromium, chromium-browser, google-chrome on PATH; "" when none.
func findBrowser() string {
	if p := os.Getenv("HOARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless browser with a fresh profile and returns a
// context for its first tab. The flags keep it off the network (this
// machine's is closed, and a browser's background traffic would only add
// noise) and are all it needs to run as root in a container.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	bin := findBrowser()
	if bin == "" {
		t.Skip("no browser: set HOARD_CHROMIUM or put chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return bctx
}

// hit is one request the test server answered.
type hit struct {
	path            string // with ?query, if any
	ifNoneMatch     string
	acceptEncoding  string
	status          int
	etag            string // the ETag answered
	contentEncoding string // the Content-Encoding answered
	bytes           int    // body bytes written
}

// serverLog records the requests a server answered.
type serverLog struct {
	mu   sync.Mutex
	hits []hit // guarded by mu
}

func (l *serverLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.hits = append(l.hits, hit{
			path: r.URL.RequestURI(), ifNoneMatch: r.Header.Get("If-None-Match"), acceptEncoding: r.Header.Get("Accept-Encoding"),
			status: sw.status, etag: w.Header().Get("ETag"), contentEncoding: w.Header().Get("Content-Encoding"), bytes: sw.bytes,
		})
	})
}

// since returns the hits after the first n.
func (l *serverLog) since(n int) []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hit(nil), l.hits[n:]...)
}

func (l *serverLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// netEvent is what the browser's DevTools said about one request.
type netEvent struct {
	url        string
	status     int64
	fromDisk   bool    // Response.fromDiskCache
	fromMemory bool    // Network.requestServedFromCache
	encoding   string  // the response's Content-Encoding, as the browser saw it
	done       bool    // Network.loadingFinished came
	received   float64 // its encodedDataLength: bytes off the network, headers included
}

// netLog records the DevTools Network events of a tab, by request.
type netLog struct {
	mu      sync.Mutex
	order   []network.RequestID             // guarded by mu
	byID    map[network.RequestID]*netEvent // guarded by mu
	changed chan struct{}                   // closed and replaced at each event; guarded by mu
}

func (l *netLog) listen(ctx context.Context) error {
	l.byID = map[network.RequestID]*netEvent{}
	l.changed = make(chan struct{})
	return chromedp.Listen(ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		defer func() {
			close(l.changed)
			l.changed = make(chan struct{})
		}()
		get := func(id network.RequestID) *netEvent {
			e := l.byID[id]
			if e == nil {
				e = &netEvent{}
				l.byID[id] = e
				l.order = append(l.order, id)
			}
			return e
		}
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			get(ev.RequestID).url = ev.Request.URL
		case *network.EventRequestServedFromCache:
			get(ev.RequestID).fromMemory = true
		case *network.EventResponseReceived:
			e := get(ev.RequestID)
			e.url, e.status, e.fromDisk = ev.Response.URL, ev.Response.Status, ev.Response.FromDiskCache
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					e.encoding, _ = v.(string)
				}
			}
		case *network.EventLoadingFinished:
			e := get(ev.RequestID)
			e.done, e.received = true, ev.EncodedDataLength
		}
	})
}

// waitDone waits until the last request for url has finished loading, or
// ctx ends, and returns its event.
func (l *netLog) waitDone(ctx context.Context, url string) (netEvent, error) {
	for {
		l.mu.Lock()
		var last *netEvent
		for _, id := range l.order {
			if e := l.byID[id]; e.url == url {
				last = e
			}
		}
		changed := l.changed
		if last != nil && last.done {
			e := *last
			l.mu.Unlock()
			return e, nil
		}
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return netEvent{}, ctx.Err()
		}
	}
}

// since returns the events of the requests after the first n.
func (l *netLog) since(n int) []netEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []netEvent
	for _, id := range l.order[n:] {
		out = append(out, *l.byID[id])
	}
	return out
}

func (l *netLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.order)
}

// countPath returns how many hits asked for path and got status.
func countPath(hits []hit, path string, status int) int {
	n := 0
	for _, h := range hits {
		if h.path == path && h.status == status {
			n++
		}
	}
	return n
}

// eventFor returns the last event for url.
func eventFor(events []netEvent, url string) (netEvent, bool) {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].url == url {
			return events[i], true
		}
	}
	return netEvent{}, false
}
