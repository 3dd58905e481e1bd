package xfetch

import (
	"context"
	"time"
)

// Sample is the latency of one request.
type Sample struct {
	At       time.Duration // when it was sent, or would have been, since the phase began
	Latency  time.Duration
	Instance int // the instance of the reader, from 0
	// Backfilled marks a request a paced client would have sent while a
	// read stalled: it was not sent, and waited from At to the stall's end.
	Backfilled bool
}

// counts are a reader's exact counts of the requests in its window.
type counts struct {
	reads     int64 // reads sent
	requests  int64 // reads plus backfilled requests
	misses    int64 // requests of latency ≥ the miss threshold
	rawMisses int64 // reads of latency ≥ the miss threshold
	max       time.Duration
}

func (c *counts) add(o counts) {
	c.reads += o.reads
	c.requests += o.requests
	c.misses += o.misses
	c.rawMisses += o.rawMisses
	c.max = max(c.max, o.max)
}

// recorder is one reader's record. It is used by its reader only, and read
// once the reader has stopped.
type recorder struct {
	instance  int
	from, to  time.Duration // the window counted: requests sent in [from, to)
	threshold time.Duration // a miss's latency
	counts    counts
	errors    int64
	firstErr  error

	// samples is preallocated and never grows: when full, every other
	// sample is dropped and from then on one request in keepEvery is
	// kept, doubling each time, so the samples stay spread over the run.
	samples   []Sample
	keepEvery int
	skipped   int
}

func newRecorder(instance int, from, to, threshold time.Duration, maxSamples int) *recorder {
	return &recorder{instance: instance, from: from, to: to, threshold: threshold, samples: make([]Sample, 0, maxSamples), keepEvery: 1}
}

// add records s if it falls in the window.
func (r *recorder) add(s Sample) {
	if s.At < r.from || s.At >= r.to {
		return
	}
	c := &r.counts
	c.requests++
	if !s.Backfilled {
		c.reads++
	}
	if s.Latency >= r.threshold {
		c.misses++
		if !s.Backfilled {
			c.rawMisses++
		}
	}
	c.max = max(c.max, s.Latency)

	if r.skipped++; r.skipped < r.keepEvery {
		return
	}
	r.skipped = 0
	if len(r.samples) == cap(r.samples) {
		n := 0
		for i := 0; i < len(r.samples); i += 2 {
			r.samples[n] = r.samples[i]
			n++
		}
		r.samples = r.samples[:n]
		r.keepEvery *= 2
	}
	r.samples = append(r.samples, s)
}

// read records a read sent at at that took lat and, when think > 0, the
// requests a client sending one every think would have sent meanwhile:
// one per think after the first, each waiting until the read's end
// (HdrHistogram's recordValueWithExpectedInterval).
func (r *recorder) read(at, lat, think time.Duration) {
	r.add(Sample{At: at, Latency: lat, Instance: r.instance})
	if think <= 0 {
		return
	}
	k := time.Duration(1)
	for missing := lat - think; missing >= think; missing -= think {
		r.add(Sample{At: at + k*think, Latency: missing, Instance: r.instance, Backfilled: true})
		k++
	}
}

// run reads with get from start until end (or ctx ends), one read every
// think (negative: a tight loop), and records them.
func (r *recorder) run(ctx context.Context, start, end time.Time, think time.Duration, get func(context.Context) error) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		err := get(ctx)
		lat := time.Since(t0)
		if err != nil {
			r.errors++
			if r.firstErr == nil {
				r.firstErr = err
			}
		}
		r.read(t0.Sub(start), lat, think)
		if wait := think - time.Since(t0); wait > 0 {
			time.Sleep(wait)
		}
	}
}
