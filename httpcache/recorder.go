package httpcache

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync"
)

// sink is the client's ResponseWriter as the recorder of a load sees it:
// a response that cannot be stored (too large, flushed) goes through to it
// while the client still waits for it. The client's goroutine and the
// load's share it, so every use holds mu.
type sink struct {
	mu      sync.Mutex
	w       http.ResponseWriter // guarded by mu
	open    bool                // the client still waits; guarded by mu
	claimed bool                // a recorder writes through; guarded by mu
	// onPass, when set, adds the status headers to a response passed
	// through.
	onPass func(http.Header)
}

// write writes p through, or drops it once the client has stopped
// waiting.
func (s *sink) write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return 0, errNotRecorded
	}
	return s.w.Write(p)
}

func (s *sink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return errNotRecorded
	}
	return http.NewResponseController(s.w).Flush()
}

// close marks the client gone: writes through stop.
func (s *sink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open = false
}

// closeUnlessClaimed closes the sink unless a recorder writes through,
// and reports whether one does: then the response is its, and the sink
// stays open until the client closes it after the render.
func (s *sink) closeUnlessClaimed() (claimed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.claimed {
		s.open = false
	}
	return s.claimed
}

// errNotRecorded is what a handler's Write returns once its response can
// be neither stored nor passed to a waiting client: it may stop early.
var errNotRecorded = errors.New("httpcache: response not recorded: over the size limit or streamed, with no client waiting")

// bodyBuffers are reused body buffers of recorders.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer bounds the buffers kept for reuse.
const maxPooledBuffer = 1 << 20

// recorder is the ResponseWriter a handler writes to when its response
// may be stored: it records status, headers (as they were at WriteHeader)
// and body up to max bytes. A body over max, or a Flush, spoils the
// recording: the response goes through to the sink when a client waits on
// it, and is dropped otherwise. A body over max but within shareMax is
// still kept whole (not when flushed), for the requests that waited on
// the same render.
//
// A recorder is used by the handler's goroutine only.
type recorder struct {
	header   http.Header
	snap     http.Header // header at WriteHeader
	status   int
	wrote    bool
	body     *bytes.Buffer // nil once released, or spoiled and past shareMax
	max      int
	shareMax int
	sink     *sink // nil: nobody to pass through to
	passing  bool  // the response goes through to the sink
	spoiled  bool  // the response cannot be stored
}

var _ http.Flusher = (*recorder)(nil)

func newRecorder(maxBody, shareMax int, s *sink) *recorder {
	b := bodyBuffers.Get().(*bytes.Buffer)
	b.Reset()
	return &recorder{header: make(http.Header), body: b, max: maxBody, shareMax: max(shareMax, maxBody), sink: s}
}

// Header returns the header map the handler sets.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader records the status and the headers as they are now.
// Informational statuses (1xx but 101) are dropped; a 101 spoils the
// recording.
func (r *recorder) WriteHeader(code int) {
	if r.wrote || r.passing {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	r.wrote, r.status, r.snap = true, code, r.header.Clone()
	if code == http.StatusSwitchingProtocols {
		r.spoil(false)
	}
}

// Write records p, or passes it through once the recording is spoiled.
func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if r.spoiled {
		r.keep(p)
		if r.passing {
			return r.sink.write(p)
		}
		if r.body == nil {
			return 0, errNotRecorded
		}
		return len(p), nil
	}
	if r.body.Len()+len(p) > r.max {
		r.spoil(true)
		r.keep(p)
		if r.passing {
			return r.sink.write(p)
		}
		if r.body == nil {
			return 0, errNotRecorded
		}
		return len(p), nil
	}
	return r.body.Write(p)
}

// keep records p of a spoiled response for the waiters while the body
// stays within shareMax, and gives it up past that.
func (r *recorder) keep(p []byte) {
	if r.body == nil {
		return
	}
	if r.body.Len()+len(p) > r.shareMax {
		r.release()
		return
	}
	r.body.Write(p)
}

// Flush spoils the recording (a flushed response is streamed, never
// stored) and flushes what was written through to the client.
func (r *recorder) Flush() {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	if !r.spoiled {
		r.spoil(false)
	}
	r.release() // a streamed response is not kept for anyone
	if r.passing {
		_ = r.sink.flush()
	}
}

// spoil gives up recording: when a client waits on the sink, the
// response so far goes to it and the rest will follow. keep holds on to
// the body so far for the waiters; otherwise it is dropped.
func (r *recorder) spoil(keep bool) {
	r.spoiled = true
	s := r.sink
	if s != nil {
		s.mu.Lock()
		if s.open && !s.claimed {
			s.claimed, r.passing = true, true
			h := s.w.Header()
			setHeaders(h, r.snap)
			if s.onPass != nil {
				s.onPass(h)
			}
			s.w.WriteHeader(r.status)
			if r.body.Len() > 0 {
				_, _ = s.w.Write(r.body.Bytes())
			}
		}
		s.mu.Unlock()
	}
	if !keep {
		r.release()
	}
}

// statusCode is the recorded status: 200 when the handler set none.
func (r *recorder) statusCode() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.status
}

// finalHeader returns the recorded headers, owned by the caller, with
// Content-Length set to the body's length when the status allows a body.
func (r *recorder) finalHeader() http.Header {
	h := r.snap
	if !r.wrote {
		h = r.header.Clone()
	}
	if h == nil {
		h = make(http.Header)
	}
	if bodyAllowed(r.statusCode()) {
		h["Content-Length"] = []string{strconv.Itoa(r.body.Len())}
	} else {
		delete(h, "Content-Length")
	}
	return h
}

// bodyAllowed reports whether a response of status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// bodyCopy returns a copy of the recorded body, exactly sized.
func (r *recorder) bodyCopy() []byte {
	if r.body == nil || r.body.Len() == 0 {
		return nil
	}
	return bytes.Clone(r.body.Bytes())
}

// release returns the body buffer to the pool; the recorder keeps no body.
func (r *recorder) release() {
	if r.body == nil {
		return
	}
	if r.body.Cap() <= maxPooledBuffer {
		bodyBuffers.Put(r.body)
	}
	r.body = nil
}
