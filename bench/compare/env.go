package compare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/bench/xfetch"
)

// Env is the Redis a run uses and the key prefix that keeps the run's keys
// apart from everything else on that server.
type Env struct {
	// Server is the Redis every client of the run connects to.
	Server *xfetch.Server
	// Prefix starts every key the run writes: "hoard-cmp:<time>-<random>:".
	Prefix string

	mu      sync.Mutex
	clients []*goredis.Client // guarded by mu; closed by Close
}

// NewEnv connects to the Redis at addr (falling back to an in-process
// miniredis when it does not answer and fallback is set) and picks a
// unique key prefix. Close it when done: that deletes the run's keys.
func NewEnv(ctx context.Context, addr string, fallback bool) (*Env, error) {
	srv, err := xfetch.Connect(ctx, addr, fallback)
	if err != nil {
		return nil, err
	}
	return NewEnvOn(srv), nil
}

// NewEnvOn returns an Env on a server already connected.
func NewEnvOn(srv *xfetch.Server) *Env {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Env{Server: srv, Prefix: fmt.Sprintf("hoard-cmp:%s-%s:", time.Now().UTC().Format("150405"), hex.EncodeToString(b[:]))}
}

// Client returns a new client of the run's Redis, as another process
// would have; Close closes it.
func (e *Env) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: e.Server.Addr, PoolSize: 64})
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return c
}

// Cleanup deletes every key of the run (SCAN MATCH prefix*, then DEL; never
// FLUSHALL) and reports how many there were.
func (e *Env) Cleanup(ctx context.Context) (int, error) {
	c := goredis.NewClient(&goredis.Options{Addr: e.Server.Addr})
	defer c.Close()
	n := 0
	iter := c.Scan(ctx, 0, e.Prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.Del(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// Close deletes the run's keys, closes the clients and, for an in-process
// miniredis, the server.
func (e *Env) Close(ctx context.Context) error {
	_, err := e.Cleanup(ctx)
	e.mu.Lock()
	for _, c := range e.clients {
		_ = c.Close()
	}
	e.clients = nil
	e.mu.Unlock()
	e.Server.Close()
	return err
}
