package hoard

import (
	_ "embed"

	goredis "github.com/redis/go-redis/v9"
)

// The stream write-behind queue's atomic multi-step operations, one Lua file
// each (see lua/). Every script touches only the stream and its depth key,
// which share a hash tag, so each runs on Redis Cluster.
var (
	// streamLuaLib holds the functions the scripts share; it is prepended
	// to every script that uses them.
	//go:embed lua/stream_lib.lua
	streamLuaLib string

	//go:embed lua/stream_enqueue.lua
	streamEnqueueSource string
	streamEnqueueScript = goredis.NewScript(streamEnqueueSource)

	//go:embed lua/stream_ack.lua
	streamAckSource string
	streamAckScript = goredis.NewScript(streamLuaLib + streamAckSource)

	//go:embed lua/stream_oldest.lua
	streamOldestSource string
	streamOldestScript = goredis.NewScript(streamLuaLib + streamOldestSource)

	//go:embed lua/stream_expire_consumers.lua
	streamExpireConsumersSource string
	streamExpireConsumersScript = goredis.NewScript(streamLuaLib + streamExpireConsumersSource)
)
