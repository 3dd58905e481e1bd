package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// wrapErr turns a go-redis error into a hoard error that wraps it: ctx errors
// stay matchable with errors.Is(err, context.Canceled), connection failures
// wrap hoard.ErrUnavailable, error replies hoard.ErrBackend.
func wrapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("hoard: redis %s %q: %w", op, key, err)
	case isConnErr(err):
		return fmt.Errorf("%w: redis %s %q: %w", hoard.ErrUnavailable, op, key, err)
	default:
		return fmt.Errorf("%w: redis %s %q: %w", hoard.ErrBackend, op, key, err)
	}
}

// isConnErr reports an error of the connection rather than of the command.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, goredis.ErrClosed) || errors.Is(err, goredis.ErrPoolTimeout) ||
		errors.Is(err, goredis.ErrPoolExhausted)
}
