package hoard

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of [AsideOptions] and its feature groups.
const (
	defaultTTL              = 5 * time.Minute
	defaultJitter           = 0.1
	defaultNegativeTTL      = 30 * time.Second
	defaultFailSafeThrottle = 30 * time.Second
	defaultLockTTL          = 10 * time.Second
	defaultLockWait         = 5 * time.Second
	defaultBeta             = 1.0
	defaultRefreshBackoff   = time.Second
	// defaultEarlyRefreshDraws is how many XFetch draws a process makes at
	// most per key per load duration.
	defaultEarlyRefreshDraws = 16
	defaultMaxBackground     = 64
)

// asideSettings are an Aside's options resolved: defaults applied and the
// feature groups flattened, a zero field of a group meaning the feature is
// off (FailSafe 0, Locker nil, EarlyRefresh false).
type asideSettings[V any] struct {
	Name        string
	Keys        KeyBuilder
	Memory      Cache[V]
	Shared      Cache[V]
	TTL         time.Duration
	Jitter      float64
	MemoryTTL   time.Duration
	NegativeTTL time.Duration
	LoadTimeout time.Duration

	// FailSafe is the fail-safe window; 0 for none.
	FailSafe         time.Duration
	FailSafeThrottle time.Duration
	SoftTimeout      time.Duration

	// Locker is nil without distributed stampede protection.
	Locker       Locker
	LockTTL      time.Duration
	LockWait     time.Duration
	LockFallback LockFallback

	EarlyRefresh      bool
	Beta              float64
	EarlyRefreshDraws int
	RefreshBackoff    time.Duration

	// SoftShared and HardShared are SharedBudget's timeouts, 0 for none;
	// BackgroundWrites its switch.
	SoftShared       time.Duration
	HardShared       time.Duration
	BackgroundWrites bool
	Breaker          *CircuitBreaker
	Logger           *slog.Logger
	MaxBackground    int

	Bus         Bus
	Invalidator *Invalidator
	TagsOf      func(id string, v V) []string
	Namespace   string
	Metrics     *Metrics
	Clock       Clock
	Rand        func() float64
}

// maxDuration bounds every duration option: a century, far past any
// useful TTL, and small enough that sums of them (a TTL plus a fail-safe
// window plus a backend's grace) cannot overflow a time.Duration.
const maxDuration = 100 * 365 * 24 * time.Hour

// settings checks o and resolves it.
func (o *AsideOptions[V]) settings() (asideSettings[V], error) {
	s := asideSettings[V]{
		Name: o.Name, Keys: o.Keys, Memory: o.Memory, Shared: o.Shared, TTL: o.TTL, Jitter: o.Jitter,
		MemoryTTL: o.MemoryTTL, NegativeTTL: o.NegativeTTL, LoadTimeout: o.LoadTimeout,
		Bus: o.Bus, Invalidator: o.Invalidator, TagsOf: o.TagsOf, Namespace: o.Namespace,
		Metrics: o.Metrics, Clock: o.Clock, Rand: o.Rand, Breaker: o.Breaker, Logger: o.Logger, MaxBackground: o.MaxBackground,
	}
	if s.Name == "" {
		s.Name = "aside"
	}
	if fs := o.FailSafe; fs != nil {
		if fs.Window <= 0 {
			return s, fmt.Errorf("%w: aside %q: FailSafe.Window %v is not positive", ErrInvalidOption, s.Name, fs.Window)
		}
		s.FailSafe, s.FailSafeThrottle, s.SoftTimeout = fs.Window, fs.Throttle, fs.SoftTimeout
	}
	if st := o.Stampede; st != nil {
		if st.Locker == nil {
			return s, fmt.Errorf("%w: aside %q: Stampede without a Locker", ErrInvalidOption, s.Name)
		}
		s.Locker, s.LockTTL, s.LockWait, s.LockFallback = st.Locker, st.LockTTL, st.Wait, st.Fallback
	}
	if er := o.EarlyRefresh; er != nil {
		s.EarlyRefresh, s.Beta, s.EarlyRefreshDraws, s.RefreshBackoff = true, er.Beta, er.Draws, er.Backoff
	}
	if sb := o.SharedBudget; sb != nil {
		s.SoftShared, s.HardShared, s.BackgroundWrites = sb.SoftTimeout, sb.HardTimeout, sb.BackgroundWrites
		if s.Shared == nil {
			return s, fmt.Errorf("%w: aside %q: SharedBudget without a Shared tier", ErrInvalidOption, s.Name)
		}
	}
	if err := s.validate(); err != nil {
		return s, err
	}
	s, err := s.withDefaults()
	if err != nil {
		return s, err
	}
	s.Shared, err = guardShared(s.Name, s.Shared, o.SharedBudget, s.Breaker)
	// The locks live on the shared Redis too: behind the same guard.
	s.Locker = guardLocker(s.Locker, s.HardShared, s.Breaker)
	return s, err
}

func (o *asideSettings[V]) validate() error {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"TTL", o.TTL}, {"MemoryTTL", o.MemoryTTL}, {"NegativeTTL", o.NegativeTTL}, {"FailSafe.Window", o.FailSafe},
		{"FailSafe.Throttle", o.FailSafeThrottle}, {"LoadTimeout", o.LoadTimeout}, {"FailSafe.SoftTimeout", o.SoftTimeout},
		{"EarlyRefresh.Backoff", o.RefreshBackoff}, {"Stampede.LockTTL", o.LockTTL}, {"Stampede.Wait", o.LockWait},
		{"SharedBudget.SoftTimeout", o.SoftShared}, {"SharedBudget.HardTimeout", o.HardShared}} {
		if d.d > maxDuration {
			return fmt.Errorf("%w: aside %q: %s %v is more than the limit of 100 years", ErrInvalidOption, o.Name, d.name, d.d)
		}
	}
	switch {
	case o.Memory == nil && o.Shared == nil:
		return fmt.Errorf("%w: aside %q: no tier: set Memory, Shared or both", ErrInvalidOption, o.Name)
	case o.TagsOf != nil && o.Invalidator == nil:
		return fmt.Errorf("%w: aside %q: TagsOf needs an Invalidator", ErrInvalidOption, o.Name)
	case o.Namespace != "" && o.Invalidator == nil:
		return fmt.Errorf("%w: aside %q: Namespace %q needs an Invalidator", ErrInvalidOption, o.Name, o.Namespace)
	case o.TTL < 0:
		return fmt.Errorf("%w: aside %q: TTL %v is negative", ErrInvalidOption, o.Name, o.TTL)
	case o.Jitter > 1:
		return fmt.Errorf("%w: aside %q: Jitter %v is above 1", ErrInvalidOption, o.Name, o.Jitter)
	case o.MemoryTTL < 0:
		return fmt.Errorf("%w: aside %q: MemoryTTL %v is negative", ErrInvalidOption, o.Name, o.MemoryTTL)
	case o.FailSafeThrottle < 0:
		return fmt.Errorf("%w: aside %q: FailSafe.Throttle %v is negative", ErrInvalidOption, o.Name, o.FailSafeThrottle)
	case o.LockTTL < 0 || (o.LockTTL > 0 && o.LockTTL < 3*time.Millisecond):
		return fmt.Errorf("%w: aside %q: Stampede.LockTTL %v is negative or below 3ms", ErrInvalidOption, o.Name, o.LockTTL)
	case o.LockWait < 0:
		return fmt.Errorf("%w: aside %q: Stampede.Wait %v is negative", ErrInvalidOption, o.Name, o.LockWait)
	case o.LockFallback > LockFallbackError:
		return fmt.Errorf("%w: aside %q: unknown Stampede.Fallback %d", ErrInvalidOption, o.Name, o.LockFallback)
	case o.Beta < 0 || math.IsNaN(o.Beta) || math.IsInf(o.Beta, 0):
		return fmt.Errorf("%w: aside %q: EarlyRefresh.Beta %v is not a finite number ≥ 0", ErrInvalidOption, o.Name, o.Beta)
	case o.RefreshBackoff < 0:
		return fmt.Errorf("%w: aside %q: EarlyRefresh.Backoff %v is negative", ErrInvalidOption, o.Name, o.RefreshBackoff)
	case o.SoftTimeout < 0:
		return fmt.Errorf("%w: aside %q: FailSafe.SoftTimeout %v is negative", ErrInvalidOption, o.Name, o.SoftTimeout)
	case o.SoftShared < 0 || o.HardShared < 0:
		return fmt.Errorf("%w: aside %q: a SharedBudget timeout is negative", ErrInvalidOption, o.Name)
	case o.LoadTimeout < 0:
		return fmt.Errorf("%w: aside %q: LoadTimeout %v is negative", ErrInvalidOption, o.Name, o.LoadTimeout)
	}
	return nil
}

func (o asideSettings[V]) withDefaults() (asideSettings[V], error) {
	if o.Keys == (KeyBuilder{}) {
		kb, err := NewKeyBuilder(o.Name, nil)
		if err != nil {
			return o, fmt.Errorf("aside name as key prefix: %w", err)
		}
		o.Keys = kb
	}
	if o.TTL == 0 {
		o.TTL = defaultTTL
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = defaultJitter
	case o.Jitter < 0:
		o.Jitter = 0
	}
	if o.MemoryTTL == 0 || o.MemoryTTL > o.TTL {
		o.MemoryTTL = o.TTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = defaultNegativeTTL
	}
	if o.FailSafeThrottle == 0 {
		o.FailSafeThrottle = defaultFailSafeThrottle
	}
	if o.Beta == 0 {
		o.Beta = defaultBeta
	}
	if o.EarlyRefreshDraws == 0 {
		o.EarlyRefreshDraws = defaultEarlyRefreshDraws
	}
	if o.RefreshBackoff == 0 {
		o.RefreshBackoff = defaultRefreshBackoff
	}
	if o.LockTTL == 0 {
		o.LockTTL = defaultLockTTL
	}
	if o.LockWait == 0 {
		o.LockWait = defaultLockWait
	}
	if o.MaxBackground == 0 {
		o.MaxBackground = defaultMaxBackground
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(o.Name, nil)
	}
	o.Clock = clockOrSystem(o.Clock)
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	return o, nil
}
