package hoardredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// Locker is a [hoard.Locker] on Redis, with github.com/bsm/redislock: a
// lock is a key set with NX and a random token, refreshed and released by
// Lua scripts that check the token, so a holder can never release a lock
// another has taken since its own expired. It works on a single node and on
// Cluster (each lock is one key).
type Locker struct {
	client *redislock.Client
	prefix string
}

var _ hoard.Locker = (*Locker)(nil)

// LockerOptions configure a [Locker].
type LockerOptions struct {
	// Prefix starts the key of every lock: a lock on key is the Redis key
	// Prefix + key. Default: "lock:" ([NewService] gives "app:lock:").
	Prefix string
}

// NewLocker returns a locker on client; opts may be nil for the defaults.
// On a *redis.ClusterClient it adds the failover hook that [New]
// describes.
func NewLocker(client goredis.UniversalClient, opts *LockerOptions) (*Locker, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis locker: nil client", hoard.ErrInvalidOption)
	}
	prefix := "lock:"
	if opts != nil && opts.Prefix != "" {
		prefix = opts.Prefix
	}
	followFailover(client)
	return &Locker{client: redislock.New(client), prefix: prefix}, nil
}

// TryLock takes the lock of key for ttl without waiting, or fails with an
// error wrapping hoard.ErrLockHeld.
func (l *Locker) TryLock(ctx context.Context, key string, ttl time.Duration) (hoard.Lock, error) {
	lock, err := l.client.Obtain(ctx, l.prefix+key, ttl, nil)
	switch {
	case err == nil:
		return redisLock{lock}, nil
	case errors.Is(err, redislock.ErrNotObtained):
		return nil, fmt.Errorf("%w: %q", hoard.ErrLockHeld, key)
	default:
		return nil, wrapErr("lock", key, err)
	}
}

// redisLock adapts a redislock.Lock to hoard.Lock.
type redisLock struct{ lock *redislock.Lock }

func (r redisLock) Refresh(ctx context.Context, ttl time.Duration) error {
	err := r.lock.Refresh(ctx, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return fmt.Errorf("%w: %q: %w", hoard.ErrLockNotHeld, r.lock.Key(), err)
	}
	return wrapErr("refresh lock", r.lock.Key(), err)
}

func (r redisLock) Release(ctx context.Context) error {
	err := r.lock.Release(ctx)
	if errors.Is(err, redislock.ErrLockNotHeld) {
		return fmt.Errorf("%w: %q: %w", hoard.ErrLockNotHeld, r.lock.Key(), err)
	}
	return wrapErr("release lock", r.lock.Key(), err)
}
