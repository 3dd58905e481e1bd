package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// TestWrapErr: every error a go-redis call returns is classified here, for
// the cache, the locker, the bus, the tag clock and the stream queue alike.
func TestWrapErr(t *testing.T) {
	if err := wrapErr("get", "k", nil); err != nil {
		t.Fatalf("wrapErr(nil) = %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
		want error // the hoard sentinel, nil for a ctx error
	}{
		{"canceled", context.Canceled, nil},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), nil},
		{"net", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, hoard.ErrUnavailable},
		{"eof", io.EOF, hoard.ErrUnavailable},
		{"unexpected eof", io.ErrUnexpectedEOF, hoard.ErrUnavailable},
		{"client closed", goredis.ErrClosed, hoard.ErrUnavailable},
		{"pool timeout", goredis.ErrPoolTimeout, hoard.ErrUnavailable},
		{"pool exhausted", goredis.ErrPoolExhausted, hoard.ErrUnavailable},
		{"reply", errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), hoard.ErrBackend},
	} {
		got := wrapErr("op", "key", c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("%s: %v does not wrap the cause", c.name, got)
		}
		for _, sentinel := range []error{hoard.ErrUnavailable, hoard.ErrBackend} {
			if errors.Is(got, sentinel) != (sentinel == c.want) {
				t.Errorf("%s: %v; want it to wrap %v", c.name, got, c.want)
			}
		}
	}
}
