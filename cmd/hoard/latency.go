package main

import (
	"math"
	"time"
)

// latencies is a histogram of durations with buckets 5% wide, so a
// scenario can time millions of reads in constant memory. One goroutine
// owns one; merge them at the end.
type latencies struct {
	buckets [latencyBuckets]int64
	count   int64
}

const latencyBuckets = 400 // 1.05^400 ns is far beyond any read

func latencyBucket(d time.Duration) int {
	if d <= 1 {
		return 0
	}
	return min(int(math.Log(float64(d))/math.Log(1.05))+1, latencyBuckets-1)
}

func (l *latencies) observe(d time.Duration) {
	l.buckets[latencyBucket(d)]++
	l.count++
}

func (l *latencies) merge(o *latencies) {
	for i, n := range o.buckets {
		l.buckets[i] += n
	}
	l.count += o.count
}

// quantile returns the upper edge of the bucket holding the q-quantile.
func (l *latencies) quantile(q float64) time.Duration {
	if l.count == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(l.count)))
	var seen int64
	for i, n := range l.buckets {
		seen += n
		if seen >= rank {
			return time.Duration(math.Pow(1.05, float64(i)))
		}
	}
	return time.Duration(math.Pow(1.05, latencyBuckets))
}
