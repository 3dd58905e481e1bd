package xfetch

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// Server is the Redis every instance of a run connects to.
type Server struct {
	// Addr is its host:port.
	Addr string
	// Description says which server it is, for the report: "Redis 7.0.15
	// at 127.0.0.1:6379" or "miniredis (in-process fallback)".
	Description string
	// Miniredis reports an in-process miniredis.
	Miniredis bool

	mr *miniredis.Miniredis
}

// Connect returns the Redis at addr if it answers within a second. If it
// does not and fallback is set, it starts an in-process miniredis instead
// (whose TTLs run against the wall clock, as Redis's do); otherwise it
// fails. Close the server when done.
func Connect(ctx context.Context, addr string, fallback bool) (*Server, error) {
	version, err := redisVersion(ctx, addr)
	if err == nil {
		return &Server{Addr: addr, Description: fmt.Sprintf("Redis %s at %s", version, addr)}, nil
	}
	if !fallback {
		return nil, fmt.Errorf("%w at %s: %w", errNoRedis, addr, err)
	}
	s, merr := StartMiniredis()
	if merr != nil {
		return nil, fmt.Errorf("%w at %s (%w), and miniredis did not start: %w", errNoRedis, addr, err, merr)
	}
	s.Description = fmt.Sprintf("miniredis (in-process fallback: Redis at %s does not answer)", addr)
	return s, nil
}

// StartMiniredis starts an in-process miniredis whose TTLs run against the
// wall clock. Close it when done.
func StartMiniredis() (*Server, error) {
	mr := miniredis.NewMiniRedis()
	mr.ClockTTL(true)
	if err := mr.Start(); err != nil {
		return nil, err
	}
	return &Server{Addr: mr.Addr(), Description: "miniredis (in-process)", Miniredis: true, mr: mr}, nil
}

// Close stops the server if it is an in-process miniredis.
func (s *Server) Close() {
	if s.mr != nil {
		s.mr.Close()
	}
}

var versionLine = regexp.MustCompile(`(?m)^redis_version:(\S+)`)

// redisVersion asks the Redis at addr for its version.
func redisVersion(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	if m := versionLine.FindStringSubmatch(info); m != nil {
		return m[1], nil
	}
	return "(unknown version)", nil
}
