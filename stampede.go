package hoard

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Stampede protection has two halves. In a process, [FlightGroup] makes
// concurrent readers of a key share one load. Across processes, a [Locker]
// makes them share one: the process that takes the key's lock loads and
// writes the value, the others wait for it to appear in the shared tier.
// Cache-aside uses both when [AsideOptions.Stampede] is set.

// Locker hands out locks on keys, for one load per key across every
// process that shares the locker. backends/hoardredis.NewLocker is one on Redis
// (github.com/bsm/redislock); [LocalLocker] is one for a single process.
type Locker interface {
	// TryLock takes the lock of key for ttl without waiting. It returns an
	// error wrapping [ErrLockHeld] when another holder has it.
	TryLock(ctx context.Context, key string, ttl time.Duration) (Lock, error)
}

// Lock is a held lock.
type Lock interface {
	// Refresh extends the lock to ttl from now. It returns an error
	// wrapping [ErrLockNotHeld] when the lock expired meanwhile.
	Refresh(ctx context.Context, ttl time.Duration) error
	// Release gives the lock up. It returns an error wrapping
	// [ErrLockNotHeld] when the lock had expired or was released already.
	Release(ctx context.Context) error
}

// LocalLocker is a [Locker] for one process: locks live in a map and
// expire by the clock. The zero value is ready to use.
type LocalLocker struct {
	// Clock reads the time for expiry. Default: the system clock.
	Clock Clock

	mu    sync.Mutex           // guards held
	held  map[string]localHold // by key
	token uint64               // the last token handed out; guarded by mu
}

type localHold struct {
	token   uint64
	expires time.Time
}

// TryLock takes the lock of key for ttl, or fails with [ErrLockHeld].
func (l *LocalLocker) TryLock(_ context.Context, key string, ttl time.Duration) (Lock, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := clockOrSystem(l.Clock).Now()
	if h, ok := l.held[key]; ok && now.Before(h.expires) {
		return nil, fmt.Errorf("%w: %q", ErrLockHeld, key)
	}
	if l.held == nil {
		l.held = make(map[string]localHold)
	}
	l.token++
	l.held[key] = localHold{token: l.token, expires: now.Add(ttl)}
	return &localLock{locker: l, key: key, token: l.token}, nil
}

// localLock is a lock of a LocalLocker.
type localLock struct {
	locker *LocalLocker
	key    string
	token  uint64
}

func (k *localLock) Refresh(_ context.Context, ttl time.Duration) error {
	l := k.locker
	l.mu.Lock()
	defer l.mu.Unlock()
	now := clockOrSystem(l.Clock).Now()
	if h, ok := l.held[k.key]; !ok || h.token != k.token || !now.Before(h.expires) {
		return fmt.Errorf("%w: %q", ErrLockNotHeld, k.key)
	}
	l.held[k.key] = localHold{token: k.token, expires: now.Add(ttl)}
	return nil
}

func (k *localLock) Release(context.Context) error {
	l := k.locker
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[k.key]
	if !ok || h.token != k.token {
		return fmt.Errorf("%w: %q", ErrLockNotHeld, k.key)
	}
	delete(l.held, k.key)
	if !clockOrSystem(l.Clock).Now().Before(h.expires) {
		return fmt.Errorf("%w: %q expired before its release", ErrLockNotHeld, k.key)
	}
	return nil
}
