package hoardredis

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/hoard-cache/hoard"
)

// The envelope is how an entry travels to and from Redis:
//
//	offset size field
//	0      1    format: formatV1
//	1      1    flags: flagNegative, flagTombstone, flagTags
//	2      8    generation, big-endian (the stale-set token; at a fixed offset
//	            so cas.lua can compare it without decoding)
//	10     8    written-at, Unix ns
//	18     8    expires-at, Unix ns (0: never)
//	26     8    stale-until, Unix ns (0: none)
//	34     8    load duration, ns
//	42     ...  if flagTags: uvarint count, then per tag uvarint length + bytes,
//	            then the tag epoch as a uvarint
//	...         payload: the codec's bytes (empty in negative entries and tombstones)
//
// A tombstone is what Delete leaves: an envelope with no payload whose only
// job is to carry a new generation for TombstoneTTL, so that a load that read
// the key before the Delete cannot store its value after it.
const (
	formatV1      = 1
	headerLen     = 42
	genOffset     = 2
	flagNegative  = 1 << 0
	flagTombstone = 1 << 1
	flagTags      = 1 << 2
	knownFlags    = flagNegative | flagTombstone | flagTags

	// maxTags and maxTagLen bound what a decoder accepts, whatever a
	// corrupt count claims.
	maxTags   = 1024
	maxTagLen = 4096
)

// header is an envelope without its payload.
type header struct {
	flags        byte
	generation   uint64
	writtenAt    int64
	expiresAt    int64
	staleUntil   int64
	loadDuration int64
	tags         []string
	tagEpoch     int64
}

// appendEnvelope appends the envelope of h and payload to dst.
func appendEnvelope(dst []byte, h *header, payload []byte) []byte {
	flags := h.flags
	if len(h.tags) > 0 {
		flags |= flagTags
	}
	dst = append(dst, formatV1, flags)
	dst = binary.BigEndian.AppendUint64(dst, h.generation)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.writtenAt))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.expiresAt))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.staleUntil))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.loadDuration))
	if len(h.tags) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(h.tags)))
		for _, t := range h.tags {
			dst = binary.AppendUvarint(dst, uint64(len(t)))
			dst = append(dst, t...)
		}
		dst = binary.AppendUvarint(dst, uint64(h.tagEpoch))
	}
	return append(dst, payload...)
}

// envelopeSize is the length appendEnvelope will produce.
func envelopeSize(h *header, payloadLen int) int {
	n := headerLen + payloadLen
	if len(h.tags) > 0 {
		n += binary.MaxVarintLen64
		for _, t := range h.tags {
			n += binary.MaxVarintLen64 + len(t)
		}
		n += binary.MaxVarintLen64
	}
	return n
}

// decodeEnvelope splits b into its header and payload. The payload aliases
// b. It never panics, and it allocates only the tags, bounded by len(b).
func decodeEnvelope(b []byte) (header, []byte, error) {
	var h header
	if len(b) < headerLen {
		return h, nil, fmt.Errorf("%w: envelope of %d bytes is shorter than its %d-byte header", hoard.ErrCorrupt, len(b), headerLen)
	}
	if b[0] != formatV1 {
		return h, nil, fmt.Errorf("%w: envelope format %d is not %d", hoard.ErrCorrupt, b[0], formatV1)
	}
	h.flags = b[1]
	if h.flags&^knownFlags != 0 {
		return h, nil, fmt.Errorf("%w: envelope has unknown flags %#x", hoard.ErrCorrupt, h.flags&^knownFlags)
	}
	h.generation = binary.BigEndian.Uint64(b[2:])
	h.writtenAt = int64(binary.BigEndian.Uint64(b[10:]))
	h.expiresAt = int64(binary.BigEndian.Uint64(b[18:]))
	h.staleUntil = int64(binary.BigEndian.Uint64(b[26:]))
	h.loadDuration = int64(binary.BigEndian.Uint64(b[34:]))
	rest := b[headerLen:]
	if h.flags&flagTags != 0 {
		var err error
		if h.tags, rest, err = decodeTags(rest); err != nil {
			return h, nil, err
		}
		epoch, w := binary.Uvarint(rest)
		if w <= 0 || epoch > math.MaxInt64 {
			return h, nil, fmt.Errorf("%w: envelope tag epoch is malformed", hoard.ErrCorrupt)
		}
		h.tagEpoch, rest = int64(epoch), rest[w:]
	}
	h.flags &^= flagTags
	if h.flags&(flagTombstone|flagNegative) != 0 && len(rest) > 0 {
		return h, nil, fmt.Errorf("%w: negative or tombstone envelope carries a %d-byte payload", hoard.ErrCorrupt, len(rest))
	}
	return h, rest, nil
}

// checkTags refuses the tags of key that the decoder would refuse, before
// they are written.
func checkTags(key string, tags []string) error {
	if len(tags) > maxTags {
		return fmt.Errorf("%w: redis: key %q: %d tags, more than %d", hoard.ErrTooLarge, key, len(tags), maxTags)
	}
	for _, t := range tags {
		if len(t) > maxTagLen {
			return fmt.Errorf("%w: redis: key %q: tag of %d bytes, more than %d", hoard.ErrTooLarge, key, len(t), maxTagLen)
		}
	}
	return nil
}

func decodeTags(b []byte) ([]string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n == 0 || n > maxTags || n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("%w: envelope tag count is malformed or exceeds %d", hoard.ErrCorrupt, min(maxTags, len(b)))
	}
	b = b[w:]
	tags := make([]string, 0, n)
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > maxTagLen || l > uint64(len(b)-w) {
			return nil, nil, fmt.Errorf("%w: envelope tag length is malformed or runs past the end", hoard.ErrCorrupt)
		}
		tags = append(tags, string(b[w:w+int(l)]))
		b = b[w+int(l):]
	}
	return tags, b, nil
}

// headerOf returns the envelope header of e.
func headerOf[V any](e *hoard.Entry[V]) header {
	h := header{
		writtenAt:    unixNano(e.WrittenAt),
		expiresAt:    unixNano(e.ExpiresAt),
		staleUntil:   unixNano(e.StaleUntil),
		loadDuration: int64(e.LoadDuration),
		generation:   e.Generation,
		tags:         e.Tags,
		tagEpoch:     max(e.TagEpoch, 0),
	}
	if e.Negative {
		h.flags |= flagNegative
	}
	return h
}

// setMeta sets e's metadata from h.
func setMeta[V any](e *hoard.Entry[V], h *header) {
	e.WrittenAt = fromUnixNano(h.writtenAt)
	e.ExpiresAt = fromUnixNano(h.expiresAt)
	e.StaleUntil = fromUnixNano(h.staleUntil)
	e.LoadDuration = time.Duration(h.loadDuration)
	e.Negative = h.flags&flagNegative != 0
	e.Generation = h.generation
	e.Tags = h.tags
	e.TagEpoch = h.tagEpoch
}

// keptAt is hoard.Entry.IsKept of the entry h heads, at now in Unix ns
// (as nowNano gives it), without building its times: kept when it never
// expires, else until the later of its expiry and its stale-until.
func (h *header) keptAt(now int64) bool {
	if h.expiresAt == 0 {
		return true
	}
	keep := h.expiresAt
	if h.staleUntil != 0 && h.staleUntil > keep {
		keep = h.staleUntil
	}
	return now < keep
}

// nowNano is now in Unix ns for keptAt: clamped to the range an envelope's
// times can take, so that it compares with them as now compares with the
// times setMeta builds (the zero time is before every one of them).
func nowNano(now time.Time) int64 {
	switch {
	case now.After(maxTime):
		return math.MaxInt64
	case now.Before(minTime):
		return math.MinInt64
	}
	return now.UnixNano()
}

// unixNano is t in Unix ns, 0 for the zero time, and clamped to the range
// an int64 of ns can hold (years 1678 to 2262).
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(maxTime):
		return math.MaxInt64
	case t.Before(minTime):
		return math.MinInt64 + 1
	}
	return t.UnixNano()
}

var (
	maxTime = time.Unix(0, math.MaxInt64)
	minTime = time.Unix(0, math.MinInt64+1)
)

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
