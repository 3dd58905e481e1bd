package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisOptions returns the client options of the demo's --redis: a
// redis:// or rediss:// URL (with a user, password, database number and
// go-redis's query options), or a plain host:port. Each call returns new
// options, for one client.
func redisOptions(addr string) (*goredis.Options, error) {
	if !strings.Contains(addr, "://") {
		return &goredis.Options{Addr: addr}, nil
	}
	o, err := goredis.ParseURL(addr)
	if err != nil {
		// url.Parse's errors quote the URL, password and all: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a host:port nor a redis:// or rediss:// URL: %w", err)
	}
	return o, nil
}

// describeRedis says which Redis o reaches, without its password.
func describeRedis(o *goredis.Options) string {
	d := "Redis at " + o.Addr
	if o.DB != 0 {
		d += fmt.Sprintf(", database %d", o.DB)
	}
	if o.TLSConfig != nil {
		d += ", TLS"
	}
	return d
}

// redisCheckTimeout bounds the demo's one check of a given Redis.
const redisCheckTimeout = 2 * time.Second

// checkRedis sends one PING to the Redis at addr, without retries, within
// redisCheckTimeout, so that a Redis that is down, unreachable, or not
// Redis is reported at once in one line, rather than after go-redis's
// dial retries and a log line for each.
func checkRedis(ctx context.Context, addr string) error {
	o, err := redisOptions(addr)
	if err != nil {
		return err
	}
	desc := describeRedis(o)
	o.DialTimeout = redisCheckTimeout
	o.ReadTimeout = redisCheckTimeout
	o.WriteTimeout = redisCheckTimeout
	o.MaxRetries = -1   // no command retries
	o.DialerRetries = 1 // one dial: the pool's default is 5, with backoff
	ctx, cancel := context.WithTimeout(ctx, redisCheckTimeout)
	defer cancel()
	defer redisLog.quietly()()
	c := goredis.NewClient(o)
	defer c.Close()
	err = c.Ping(ctx).Err()
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(goredis.Error)):
		// Redis answered, with an error: AUTH, ACL, a loading dataset.
		return fmt.Errorf("%s answers the demo's PING with: %w", desc, err)
	default:
		return fmt.Errorf("%s does not answer (one PING, %v timeout): %w", desc, redisCheckTimeout, err)
	}
}

// redisLog is go-redis's logger in this command: its lines on stderr, as
// go-redis's own logger writes them, except while checkRedis runs, whose
// one error says what went wrong instead of a "failed to dial" line per
// attempt.
var redisLog = &quietLogger{l: log.New(os.Stderr, "redis: ", log.LstdFlags)}

// useRedisLog makes redisLog go-redis's logger, once.
var useRedisLog = sync.OnceFunc(func() { goredis.SetLogger(redisLog) })

type quietLogger struct {
	quiet atomic.Int32 // > 0: drop lines
	l     *log.Logger
}

func (q *quietLogger) Printf(_ context.Context, format string, v ...any) {
	if q.quiet.Load() == 0 {
		q.l.Printf(format, v...)
	}
}

// quietly drops go-redis's lines until the returned function is called.
func (q *quietLogger) quietly() (done func()) {
	useRedisLog()
	q.quiet.Add(1)
	return func() { q.quiet.Add(-1) }
}
