package hoardredis

import (
	"context"
	_ "embed"
	"errors"

	goredis "github.com/redis/go-redis/v9"
)

// The cache's atomic multi-step operations, one Lua file each. Each touches
// one key, so every script runs on Redis Cluster.
var (
	//go:embed scripts/cas.lua
	casSource string
	casScript = goredis.NewScript(casSource)

	//go:embed scripts/tombstone.lua
	tombstoneSource string
	tombstoneScript = goredis.NewScript(tombstoneSource)

	//go:embed scripts/counter.lua
	counterSource string
	counterScript = goredis.NewScript(counterSource)

	//go:embed scripts/counter_floor.lua
	counterFloorSource string
	counterFloorScript = goredis.NewScript(counterFloorSource)
)

// The [StreamQueue]'s atomic multi-step operations, one Lua file each
// (scripts/stream_*.lua). Every script touches only the stream and its
// depth key, which share a hash tag, so each runs on Redis Cluster.
var (
	// streamLuaLib holds the functions the scripts share; it is prepended
	// to every script that uses them.
	//go:embed scripts/stream_lib.lua
	streamLuaLib string

	//go:embed scripts/stream_enqueue.lua
	streamEnqueueSource string
	streamEnqueueScript = goredis.NewScript(streamEnqueueSource)

	//go:embed scripts/stream_ack.lua
	streamAckSource string
	streamAckScript = goredis.NewScript(streamLuaLib + streamAckSource)

	//go:embed scripts/stream_oldest.lua
	streamOldestSource string
	streamOldestScript = goredis.NewScript(streamLuaLib + streamOldestSource)

	//go:embed scripts/stream_expire_consumers.lua
	streamExpireConsumersSource string
	streamExpireConsumersScript = goredis.NewScript(streamLuaLib + streamExpireConsumersSource)
)

// scriptCall is one run of a script in a pipeline: its keys and arguments.
type scriptCall struct {
	keys []string
	args []any
}

// runPipelined runs script once per call, in one pipeline of EVALSHAs: the
// script's source travels only when the server lacks it (a new or
// restarted server, after SCRIPT FLUSH), in a second pipeline of EVALs for
// the calls refused with NOSCRIPT, which also loads it for the next time.
// EVAL in every command would send the source once per key (cas.lua is
// 740 bytes: more than the entry of a small value). err is the first error
// of a command, as Pipelined's, or of the pipeline itself.
func runPipelined(ctx context.Context, node goredis.Cmdable, script *goredis.Script, calls []scriptCall) ([]*goredis.Cmd, error) {
	cmds := make([]*goredis.Cmd, len(calls))
	_, err := node.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []int
	for i, cmd := range cmds {
		if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return cmds, err
	}
	_, err = node.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, i := range again {
			cmds[i] = script.Eval(ctx, p, calls[i].keys, calls[i].args...)
		}
		return nil
	})
	for _, cmd := range cmds {
		if e := cmd.Err(); e != nil && !errors.Is(e, goredis.Nil) {
			return cmds, e
		}
	}
	return cmds, err
}
