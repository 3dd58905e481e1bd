package changefeed_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/stores/postgres/changefeed"
)

// The proof's consumers are processes of their own (this test binary, run
// as TestFeedConsumerProcess), so a kill is a SIGKILL: no deferred close, no
// goodbye to PostgreSQL, which finds the connections dead and releases the
// lease and the slot.

// The child's settings, from its parent.
const (
	envChild      = "HOARD_FEED_CHILD" // the child's name, its connections' application_name
	envChildTable = "HOARD_FEED_CHILD_TABLE"
	envChildApp   = "HOARD_FEED_CHILD_APP"
)

// consumers are the candidates for the feed's lease.
type consumers struct {
	fx        *fixture
	addr, app string
	procs     map[string]*osexec.Cmd
	started   int
	kills     int
}

func newConsumers(_ *testing.T, fx *fixture, addr, app string) *consumers {
	return &consumers{fx: fx, addr: addr, app: app, procs: map[string]*osexec.Cmd{}}
}

func (c *consumers) start(t *testing.T) {
	t.Helper()
	c.started++
	name := fmt.Sprintf("%s_c%d", c.fx.slot, c.started)
	cmd := osexec.Command(os.Args[0], "-test.run=^TestFeedConsumerProcess$")
	cmd.Env = append(os.Environ(), envChild+"="+name, envChildTable+"="+c.fx.table, envChildApp+"="+c.app)
	if err := cmd.Start(); err != nil {
		t.Fatalf("consumer process: %v", err)
	}
	c.procs[name] = cmd
}

// killActive SIGKILLs the consumer that holds the lease (once one does: the
// lease may be changing hands after the previous kill).
func (c *consumers) killActive(t *testing.T) {
	t.Helper()
	var name string
	waitUntil(t, "a consumer holding the lease", func() bool {
		err := c.fx.pool.QueryRow(context.Background(), `select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
			where l.locktype = 'advisory' and l.granted and a.application_name like $1`, c.fx.slot+"_c%").Scan(&name)
		return err == nil
	})
	cmd := c.procs[name]
	if cmd == nil {
		t.Fatalf("the lease is held by %q, not one of this test's consumers", name)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var exit *osexec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exit) {
		t.Fatalf("consumer %s: %v, want killed", name, err)
	}
	delete(c.procs, name)
	c.kills++
}

// leases is how many times a consumer took the lease: once at the start,
// once per kill.
func (c *consumers) leases() int { return c.kills + 1 }

func (c *consumers) close(t *testing.T) {
	for name, cmd := range c.procs {
		if err := cmd.Process.Kill(); err != nil {
			t.Errorf("consumer %s: %v", name, err)
		}
		// A killed process exits with an error: the expected end.
		_ = cmd.Wait()
	}
}

// TestFeedConsumerProcess is a consumer of TestFeedProof, run by it as a
// process of its own until it is killed.
func TestFeedConsumerProcess(t *testing.T) {
	name := os.Getenv(envChild)
	if name == "" {
		t.Skip("a consumer process of TestFeedProof: runs only as its child")
	}
	url, addr := os.Getenv(EnvPostgres), os.Getenv("HOARD_REDIS_ADDR")
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	fx := &fixture{url: url + sep + "application_name=" + name, table: os.Getenv(envChildTable), slot: os.Getenv(envChildTable)}
	in := newInstance(t, addr, os.Getenv(envChildApp))
	sink := changefeed.SinkFuncs{
		Delete: in.users.Delete,
		FlushAll: func(ctx context.Context) error {
			_, err := in.svc.Invalidator().BumpNamespace(ctx, "users")
			return err
		},
	}
	opts := fx.options(sink)
	opts.Tables = []changefeed.Table{{Name: fx.table, IDs: func(r changefeed.Row) []string { return []string{r["id"]} }}}
	opts.Repeat = 0 // the default, 1s
	f, err := changefeed.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(f.Run(context.Background())) // returns only if the context ends: never, the parent kills it
}
