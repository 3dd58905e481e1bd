package hoardredis

import (
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
)

// A bus message is one PUBLISH of a [Bus]: the sender, its sequence number
// and a batch of events.
//
//	size     field
//	1        format: busFormatV1
//	1        n: length of the instance id, 1..255
//	n        instance id
//	uvarint  seq: the sender's message number, 1 for its first message
//	uvarint  prev: µs since the sender's previous message (0 when seq is 1)
//	uvarint  count: number of events, 1..maxBusEvents
//	count ×  kind (1 byte, a hoard.InvalidationKind)
//	         uvarint length + bytes of Value (length 0 for InvalidateAll)
//
// Nothing follows the last event. prev lets a receiver that does not know
// the sender (it joined later, or forgot a sender quiet for
// BusOptions.SenderTTL) tell whether the sender's previous message was sent
// while it was subscribed: if so it missed or forgot it, and flushes.
const (
	busFormatV1 = 1

	// maxBusEvents and maxBusValueLen bound what Publish accepts and what
	// a decoder allocates for, whatever a corrupt count claims.
	maxBusEvents   = 1 << 16
	maxBusValueLen = 64 << 10
	maxInstanceID  = 255

	// minBusEventLen is the smallest encoded event: a kind and a 0 length.
	minBusEventLen = 2
)

// busHeader is a bus message without its events.
type busHeader struct {
	sender string
	seq    uint64
	prevUS uint64 // µs since the sender's previous message
}

// appendBusMessage appends the message of h carrying events to dst. The
// events must have passed checkBusEvents.
func appendBusMessage(dst []byte, h *busHeader, events []hoard.Invalidation) []byte {
	dst = append(dst, busFormatV1, byte(len(h.sender)))
	dst = append(dst, h.sender...)
	dst = appendUvarint(dst, h.seq)
	dst = appendUvarint(dst, h.prevUS)
	dst = appendUvarint(dst, uint64(len(events)))
	for _, ev := range events {
		dst = append(dst, byte(ev.Kind))
		dst = appendUvarint(dst, uint64(len(ev.Value)))
		dst = append(dst, ev.Value...)
	}
	return dst
}

// busEventSize is an upper bound of the bytes ev takes in a message.
func busEventSize(ev hoard.Invalidation) int { return 1 + 3 + len(ev.Value) }

// checkBusEvents refuses events a decoder would refuse, before they are sent.
func checkBusEvents(events []hoard.Invalidation) error {
	for i, ev := range events {
		switch {
		case ev.Kind < hoard.InvalidateKey || ev.Kind > hoard.InvalidateAll:
			return fmt.Errorf("%w: redis bus: event %d has unknown kind %d", hoard.ErrInvalidOption, i, ev.Kind)
		case ev.Kind == hoard.InvalidateAll && ev.Value != "":
			return fmt.Errorf("%w: redis bus: event %d: InvalidateAll takes no Value, got %q", hoard.ErrInvalidOption, i, ev.Value)
		case len(ev.Value) > maxBusValueLen:
			return fmt.Errorf("%w: redis bus: event %d: %s value of %d bytes, more than %d",
				hoard.ErrTooLarge, i, ev.Kind, len(ev.Value), maxBusValueLen)
		}
	}
	return nil
}

// decodeBusHeader reads the header of message m and returns it with the
// rest of m (the events). It never panics and does not allocate: the sender
// aliases m.
func decodeBusHeader(m string) (busHeader, string, error) {
	var h busHeader
	if len(m) < 2 {
		return h, "", fmt.Errorf("%w: bus message of %d bytes is too short", hoard.ErrCorrupt, len(m))
	}
	if m[0] != busFormatV1 {
		return h, "", fmt.Errorf("%w: bus message format %d is not %d", hoard.ErrCorrupt, m[0], busFormatV1)
	}
	n := int(m[1])
	if n == 0 || n > len(m)-2 {
		return h, "", fmt.Errorf("%w: bus message instance id length %d is 0 or runs past the end", hoard.ErrCorrupt, n)
	}
	h.sender, m = m[2:2+n], m[2+n:]
	var ok bool
	if h.seq, m, ok = readUvarint(m); !ok || h.seq == 0 {
		return h, "", fmt.Errorf("%w: bus message sequence number is malformed or 0", hoard.ErrCorrupt)
	}
	if h.prevUS, m, ok = readUvarint(m); !ok {
		return h, "", fmt.Errorf("%w: bus message previous-message time is malformed", hoard.ErrCorrupt)
	}
	return h, m, nil
}

// decodeBusEvents reads the events that follow a header. It never panics;
// it allocates the events slice only, bounded by len(m) (the values alias
// m).
func decodeBusEvents(m string) ([]hoard.Invalidation, error) {
	count, m, ok := readUvarint(m)
	if !ok || count == 0 || count > maxBusEvents || count > uint64(len(m)/minBusEventLen) {
		return nil, fmt.Errorf("%w: bus message event count is malformed, 0, or more than %d", hoard.ErrCorrupt, min(maxBusEvents, len(m)/minBusEventLen))
	}
	events := make([]hoard.Invalidation, 0, count)
	for range count {
		if len(m) == 0 {
			return nil, fmt.Errorf("%w: bus message ends inside its events", hoard.ErrCorrupt)
		}
		kind := hoard.InvalidationKind(m[0])
		if kind < hoard.InvalidateKey || kind > hoard.InvalidateAll {
			return nil, fmt.Errorf("%w: bus message event kind %d is unknown", hoard.ErrCorrupt, kind)
		}
		var l uint64
		if l, m, ok = readUvarint(m[1:]); !ok || l > maxBusValueLen || l > uint64(len(m)) {
			return nil, fmt.Errorf("%w: bus message event length is malformed or runs past the end", hoard.ErrCorrupt)
		}
		if kind == hoard.InvalidateAll && l != 0 {
			return nil, fmt.Errorf("%w: bus message InvalidateAll event carries a value", hoard.ErrCorrupt)
		}
		events = append(events, hoard.Invalidation{Kind: kind, Value: m[:l]})
		m = m[l:]
	}
	if len(m) > 0 {
		return nil, fmt.Errorf("%w: bus message has %d bytes after its events", hoard.ErrCorrupt, len(m))
	}
	return events, nil
}

// decodeBusMessage decodes a whole message: decodeBusHeader, then
// decodeBusEvents.
func decodeBusMessage(m string) (busHeader, []hoard.Invalidation, error) {
	h, rest, err := decodeBusHeader(m)
	if err != nil {
		return h, nil, err
	}
	events, err := decodeBusEvents(rest)
	return h, events, err
}

// appendUvarint is binary.AppendUvarint.
func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// readUvarint is binary.Uvarint on a string: it returns the value and the
// rest of s, or false when s does not start with a valid uvarint of at
// most 64 bits.
func readUvarint(s string) (uint64, string, bool) {
	var v uint64
	for i := 0; i < len(s) && i < 10; i++ {
		b := s[i]
		if i == 9 && b > 1 {
			return 0, "", false // overflows 64 bits
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, s[i+1:], true
		}
	}
	return 0, "", false
}

// microseconds returns d in whole µs (rounded down, so a receiver never
// takes the previous message for older than it is), 0 when negative.
func microseconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d / time.Microsecond)
}
