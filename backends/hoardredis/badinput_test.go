package hoardredis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// Oversize values and tag sets are refused before anything is sent, with
// ErrTooLarge and a message naming the key, the size and the limit; the
// old entry stays. (The conformance suite checks Set, SetMany and
// CompareAndSet of oversize values; this checks the messages and tags.)
func TestBadInputOversizeRefused(t *testing.T) {
	mr, client := redistest.Miniredis(t)
	ctx := context.Background()
	c, err := hoardredis.New[string](client, &hoardredis.Options{MaxValueBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", hoard.Entry[string]{Value: "old"}); err != nil {
		t.Fatal(err)
	}
	cmds := mr.CommandCount()
	for name, tc := range map[string]struct {
		e    hoard.Entry[string]
		want string
	}{
		"value":     {hoard.Entry[string]{Value: strings.Repeat("v", 2<<10)}, `hoard: too large: redis: value of "k" encodes to 2050 bytes, more than MaxValueBytes 1024`},
		"long tag":  {hoard.Entry[string]{Value: "v", Tags: []string{strings.Repeat("t", 4097)}}, `hoard: too large: redis: key "k": tag of 4097 bytes, more than 4096`},
		"1025 tags": {hoard.Entry[string]{Value: "v", Tags: make([]string, 1025)}, `hoard: too large: redis: key "k": 1025 tags, more than 1024`},
	} {
		err := c.Set(ctx, "k", tc.e)
		if !errors.Is(err, hoard.ErrTooLarge) || err.Error() != tc.want {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
		}
	}
	if n := mr.CommandCount() - cmds; n != 0 {
		t.Errorf("%d commands reached Redis for refused writes", n)
	}
	if e, err := c.Get(ctx, "k"); err != nil || e.Value != "old" {
		t.Fatalf("k = %q, %v after the refusals; want the old value", e.Value, err)
	}
}

// A value the codec cannot encode is a hoard: error naming the key and
// wrapping the codec's error; nothing is sent.
func TestBadInputUnencodableValue(t *testing.T) {
	_, client := redistest.Miniredis(t)
	c, err := hoardredis.New[func()](client, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Set(context.Background(), "k", hoard.Entry[func()]{Value: func() {}})
	var unsupported *json.UnsupportedTypeError
	if !errors.As(err, &unsupported) || !strings.HasPrefix(err.Error(), "hoard:") || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("Set of a func: %v; want a hoard: error naming the key, wrapping json's", err)
	}
}

// Keys are bounded by the Redis backend as by the memory one: a key over
// MaxValueBytes is refused with ErrTooLarge naming its size. (Keys from a
// KeyBuilder are bounded anyway: long ones are hashed, see keys.go.)
func TestBadInputOversizeKeyRefused(t *testing.T) {
	_, client := redistest.Miniredis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := hoardredis.New[string](client, &hoardredis.Options{MaxValueBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("k", 2<<10)
	err = c.Set(ctx, key, hoard.Entry[string]{Value: "v"})
	if !errors.Is(err, hoard.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(len(key))) {
		t.Fatalf("Set of a %d-byte key: %v; want ErrTooLarge naming its size", len(key), err)
	}
}
