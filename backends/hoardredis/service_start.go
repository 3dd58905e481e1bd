package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-cache/hoard"
)

// probeTTL is the TTL of the start-up check's key: if the process dies
// between its write and its delete, the key does not stay.
const probeTTL = time.Minute

// checkServer is the first start-up check: a PING (the server answers and
// takes the client's credentials), then a write, read and delete of a key
// under the application's prefix (the Redis user may use its keys).
func (s *Service) checkServer(ctx context.Context) error {
	err := s.check(ctx, func(ctx context.Context) error {
		return wrapErr("ping", "", s.client.Ping(ctx).Err())
	})
	if err != nil {
		return s.startErr(ctx, "PING (is Redis up at the client's address, and are the client's user and password right?)", err)
	}
	key := s.app + ":probe:" + randomInstanceID()
	err = s.check(ctx, func(ctx context.Context) error {
		want := randomInstanceID()
		if err := s.client.Set(ctx, key, want, probeTTL).Err(); err != nil {
			return wrapErr("set", key, err)
		}
		got, err := s.client.Get(ctx, key).Result()
		if err != nil {
			return wrapErr("get", key, err)
		}
		if got != want {
			return fmt.Errorf("%w: redis: key %q read back as %q, written as %q", hoard.ErrBackend, key, got, want)
		}
		return wrapErr("del", key, s.client.Del(ctx, key).Err())
	})
	if err != nil {
		return s.startErr(ctx, fmt.Sprintf("write, read and delete of %q (may this Redis user use the keys %s:*?)", key, s.app), err)
	}
	return nil
}

// checkTagClock reads the tag clock, which runs a script on the clock's
// keys: a user not allowed scripts, or those keys, fails here rather than
// on its first tagged read.
func (s *Service) checkTagClock(ctx context.Context) error {
	err := s.check(ctx, func(ctx context.Context) error {
		_, err := s.counters.Epoch(ctx)
		return err
	})
	if err != nil {
		return s.startErr(ctx, fmt.Sprintf("read of the tag clock %s:* (may this Redis user run scripts, EVAL and EVALSHA?)", s.tagPrefix()), err)
	}
	return nil
}

// checkBus waits for the bus's subscription: invalidations published
// before it would not reach this instance.
func (s *Service) checkBus(ctx context.Context) error {
	if err := s.check(ctx, s.bus.Ready); err != nil {
		return s.startErr(ctx, fmt.Sprintf("subscription of the bus to %q (may this Redis user subscribe to it? the bus logs the reason of each failed attempt)", s.bus.Channel()), err)
	}
	return nil
}

// check runs f with StartTimeout.
func (s *Service) check(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	return f(ctx)
}

// startErr is the error of the start-up check step that failed with err.
// A check that ran out of StartTimeout (not ctx: a caller that gave up
// gets its own ctx error) wraps hoard.ErrUnavailable: the server did not
// answer in time.
func (s *Service) startErr(ctx context.Context, step string, err error) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, hoard.ErrUnavailable) {
		return fmt.Errorf("%w: redis service %q: start-up check: %s: not done within StartTimeout %v: %w",
			hoard.ErrUnavailable, s.app, step, s.opts.StartTimeout, err)
	}
	return fmt.Errorf("hoard: redis service %q: start-up check: %s: %w", s.app, step, err)
}
