package roundtrips

import (
	"context"
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook that counts the round trips and commands a
// client sends: a command alone is one round trip, a pipeline (or a
// MULTI/EXEC) of n commands is one round trip and n commands.
type Counter struct {
	classify func(cmd goredis.Cmder) string

	mu       sync.Mutex
	trips    int            // guarded by mu
	commands map[string]int // guarded by mu: by name, as classify names them
}

var _ goredis.Hook = (*Counter)(nil)

// NewCounter returns a counter that names each command with classify (nil:
// its name in upper case).
func NewCounter(classify func(cmd goredis.Cmder) string) *Counter {
	if classify == nil {
		classify = func(cmd goredis.Cmder) string { return strings.ToUpper(cmd.Name()) }
	}
	return &Counter{classify: classify, commands: map[string]int{}}
}

// DialHook lets dials through.
func (c *Counter) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook counts one round trip and its command.
func (c *Counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts one round trip and its commands.
func (c *Counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.count(cmds...)
		return next(ctx, cmds)
	}
}

func (c *Counter) count(cmds ...goredis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	for _, cmd := range cmds {
		if n := strings.ToUpper(cmd.Name()); n == "MULTI" || n == "EXEC" {
			continue
		}
		c.commands[c.classify(cmd)]++
	}
}

// Take returns the round trips and commands counted since the last Take,
// and starts again from zero.
func (c *Counter) Take() (trips int, commands map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	trips, commands = c.trips, c.commands
	c.trips, c.commands = 0, map[string]int{}
	return trips, commands
}

// CommandStats reads INFO commandstats: calls by command, in upper case.
func CommandStats(ctx context.Context, client goredis.UniversalClient) (map[string]int, error) {
	s, err := client.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, err
				}
				out[strings.ToUpper(strings.TrimPrefix(name, "cmdstat_"))] = n
			}
		}
	}
	return out, nil
}

// diff returns after - before, without the zero counts.
func diff(before, after map[string]int) map[string]int {
	out := maps.Clone(after)
	for k, v := range before {
		out[k] -= v
	}
	maps.DeleteFunc(out, func(_ string, v int) bool { return v == 0 })
	return out
}

// format writes the counts as "GET, 2 × EVALSHA (cas)", by name.
func format(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		if m[k] == 1 {
			parts = append(parts, k)
		} else {
			parts = append(parts, strconv.Itoa(m[k])+" × "+k)
		}
	}
	return strings.Join(parts, ", ")
}
