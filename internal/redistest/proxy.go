package redistest

import (
	"net"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// Proxy is a TCP proxy in front of a Redis that a test can black-hole: its
// connections then stay open but carry nothing either way, as a Redis
// behind a dropped route does (a slow server looks the same to a client).
// Bytes written while black-holed are discarded.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	holed  bool
	conns  map[net.Conn]struct{}
	closed bool
}

// NewProxy starts a proxy to target, closed at the test's end.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's address, for a client.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// BlackHole makes every connection, open or new, carry nothing.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holed = true
}

// Heal lets bytes through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holed = false
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_, _ = c.Close(), up.Close()
			return
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies from src to dst, dropping what it reads while black-holed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() { _, _ = dst.Close(), src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			holed := p.holed
			p.mu.Unlock()
			if !holed {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF or a closed connection: close both ends
		}
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	_ = p.ln.Close()
	for c := range conns {
		_ = c.Close()
	}
}

// Proxied starts a miniredis behind a Proxy and returns both, with a client
// of the proxy (closed at the test's end) whose calls end with their ctx
// and are not retried: what a test of a black-holed Redis needs.
func Proxied(t testing.TB) (*miniredis.Miniredis, *Proxy, *goredis.Client) {
	t.Helper()
	mr, _ := Miniredis(t)
	proxy := NewProxy(t, mr.Addr())
	client := goredis.NewClient(&goredis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	return mr, proxy, client
}
