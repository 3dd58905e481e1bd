package reliability_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// faultProxy is an in-process toxiproxy TCP proxy between a client and a
// Redis server: toxics slow, cut or reset the connections through it, and
// Down/Up take it off and back on the network.
//
// Heal does not remove the toxics one by one: toxiproxy can deadlock doing
// that when a toxic was added as a connection closed (a stub stuck on a
// send in its link.go AddToxic race, which RemoveToxic then waits for). It
// replaces the proxy with a fresh one on the same address instead, which
// also drops the connections, as a network that comes back does.
type faultProxy struct {
	t        testing.TB
	srv      *toxiproxy.ApiServer
	addr     string
	upstream string
	toxic    atomic.Int64 // names toxics

	mu sync.Mutex // guards p
	p  *toxiproxy.Proxy
}

// newFaultProxy starts a proxy to upstream on a free port; it stops when
// the test ends.
func newFaultProxy(t testing.TB, upstream string) *faultProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, t.Name(), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	f := &faultProxy{t: t, srv: srv, upstream: upstream, p: p}
	f.addr = p.Listen // resolved by Start; read once, before any Stop
	t.Cleanup(func() { f.proxy().Stop() })
	return f
}

func (f *faultProxy) proxy() *toxiproxy.Proxy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p
}

// Addr is where clients connect.
func (f *faultProxy) Addr() string { return f.addr }

// Toxic adds a toxic of type typ ("latency", "timeout", "reset_peer",
// "bandwidth", "slicer", ...) on stream ("upstream": client to Redis;
// "downstream": Redis to client) with attrs, and returns its name.
func (f *faultProxy) Toxic(typ, stream string, attrs map[string]any) string {
	f.t.Helper()
	name := typ + "_" + stream + "_" + strconv.FormatInt(f.toxic.Add(1), 10)
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attrs})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.proxy().Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		f.t.Fatalf("toxiproxy: add %s toxic: %v", typ, err)
	}
	return name
}

// Heal removes every toxic (and drops the connections; see faultProxy),
// and leaves the proxy up.
func (f *faultProxy) Heal() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p.Stop()
	f.p = toxiproxy.NewProxy(f.srv, f.t.Name(), f.addr, f.upstream)
	if err := f.p.Start(); err != nil {
		f.t.Errorf("toxiproxy: up again on %s: %v", f.addr, err)
	}
}

// Down closes the proxy's listener and every connection through it: the
// server is unreachable (connection refused).
func (f *faultProxy) Down() { f.proxy().Stop() }

// Up listens again on the same address.
func (f *faultProxy) Up() {
	f.t.Helper()
	if err := f.proxy().Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		f.t.Errorf("toxiproxy: up again: %v", err)
	}
}
