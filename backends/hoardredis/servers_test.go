package hoardredis_test

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/internal/redistest"
)

// onServers runs f against miniredis, and against the real Redis at
// HOARD_REDIS_ADDR when it is set (the subtest skips otherwise). prefix
// starts every key f may use: on the real server it is unique to the run,
// and the keys under it are deleted when the test ends (never FLUSHALL: the
// server is shared).
func onServers(t *testing.T, f func(t *testing.T, client goredis.UniversalClient, prefix string)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		_, client := redistest.Miniredis(t)
		f(t, client, "t:")
	})
	t.Run("redis", func(t *testing.T) {
		client := redistest.Real(t)
		prefix := uniquePrefix(t)
		t.Cleanup(func() { redistest.DeleteUnder(t, client, prefix) })
		f(t, client, prefix)
	})
}

// uniquePrefix returns a key prefix no other run uses.
func uniquePrefix(t *testing.T) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "hoard-test:" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + hex.EncodeToString(r[:]) + ":"
}
