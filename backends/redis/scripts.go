package redis

import (
	_ "embed"

	goredis "github.com/redis/go-redis/v9"
)

// The atomic multi-step operations, one Lua file each. Each touches one key,
// so every script runs on Redis Cluster.
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
)
