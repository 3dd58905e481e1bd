package roundtrips

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a redis-server of the run's own, so that INFO commandstats
// counts nothing but the run's commands.
type Server struct {
	Addr    string
	Version string
	cmd     *exec.Cmd
	exited  chan error
}

// ErrNoServer says that redis-server could not be started.
var ErrNoServer = errors.New("roundtrips: no redis-server to start")

// StartServer starts redis-server (from PATH) on a free loopback port,
// without persistence, and waits until it answers. Close stops it.
func StartServer(ctx context.Context) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoServer, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoServer, err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	client := goredis.NewClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := client.Info(ctx, "server").Result()
		if err == nil {
			s.Version = infoField(info, "redis_version")
			return s, nil
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("%w: it exited: %v", ErrNoServer, err)
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond): // polls the server it just started
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("%w: it does not answer on %s", ErrNoServer, s.Addr)
		}
	}
}

// Close stops the server and waits for it to exit.
func (s *Server) Close() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
