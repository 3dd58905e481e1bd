package hoardredis

import (
	_ "embed"

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
