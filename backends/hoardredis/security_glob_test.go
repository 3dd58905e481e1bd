package hoardredis_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// DeletePrefix turns its prefix into a SCAN MATCH pattern: the glob
// metacharacters of a prefix made of user input are escaped, so it deletes
// exactly the keys that start with the prefix, on a real redis-server (one
// of the test's own) and on miniredis. A prefix of "*" deletes no other
// tenant's keys.
func TestSecurityDeletePrefixEscapesGlob(t *testing.T) {
	servers := map[string]func(t *testing.T) goredis.UniversalClient{
		"miniredis": func(t *testing.T) goredis.UniversalClient {
			_, c := redistest.Miniredis(t)
			return c
		},
		"redis-server": func(t *testing.T) goredis.UniversalClient {
			s := startServer(t, nil, false, pingAs("", "", nil))
			c := goredis.NewClient(&goredis.Options{Addr: s.addr})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
	kb, err := hoard.NewKeyBuilder("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"*", "?", "[a-z]", `\`, `\*`, "a*", "[", "]", "^", "a?c", "abc", "a", "", `[!a]`, "{x}"}
	for name, open := range servers {
		t.Run(name, func(t *testing.T) {
			client := open(t)
			ctx := context.Background()
			c, err := hoardredis.New[string](client, &hoardredis.Options{ScanCount: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, del := range inputs {
				// One key per input, as tenant ids of user input.
				all := map[string]bool{}
				for _, in := range inputs {
					k := kb.Key(in, "doc")
					all[k] = true
					if err := c.Set(ctx, k, hoard.Entry[string]{Value: in, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
						t.Fatal(err)
					}
				}
				prefix := kb.Key(del) // what Aside.DeletePrefix passes for idPrefix del
				var want []string
				for k := range all {
					if strings.HasPrefix(k, prefix) {
						want = append(want, k)
					}
				}
				n, err := c.DeletePrefix(ctx, prefix)
				if err != nil {
					t.Fatalf("DeletePrefix(%q): %v", prefix, err)
				}
				var gone []string
				for k := range all {
					if _, err := c.Get(ctx, k); err != nil {
						gone = append(gone, k)
					}
				}
				sort.Strings(want)
				sort.Strings(gone)
				if n != len(want) || strings.Join(gone, " ") != strings.Join(want, " ") {
					t.Fatalf("DeletePrefix(%q) = %d, deleted %q; want %q", prefix, n, gone, want)
				}
			}
		})
	}
}
