package scaling

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Env is the Redis a run uses and the prefix of the run's keys.
type Env struct {
	Addr   string
	Redis  string // which server, for the report
	Prefix string
	// Private: the server is the run's own, so INFO commandstats counts
	// only the run's commands.
	Private bool
	client  *goredis.Client
}

// NewEnv connects to the Redis at addr.
func NewEnv(ctx context.Context, addr, description string, private bool) (*Env, error) {
	var r [4]byte
	_, _ = crand.Read(r[:])
	e := &Env{Addr: addr, Redis: description, Private: private,
		Prefix: fmt.Sprintf("hoard-scale:%s-%s:", time.Now().UTC().Format("150405"), hex.EncodeToString(r[:]))}
	e.client = goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64})
	if err := e.client.Ping(ctx).Err(); err != nil {
		_ = e.client.Close()
		return nil, err
	}
	return e, nil
}

// Client returns the run's client.
func (e *Env) Client() *goredis.Client { return e.client }

// Cleanup deletes every key of the run (SCAN and DEL, never FLUSHALL).
func (e *Env) Cleanup(ctx context.Context) error {
	return deleteUnder(ctx, e.client, e.Prefix)
}

// Close deletes the run's keys and closes the client.
func (e *Env) Close(ctx context.Context) error {
	err := e.Cleanup(ctx)
	_ = e.client.Close()
	return err
}

func deleteUnder(ctx context.Context, c *goredis.Client, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return c.Unlink(ctx, keys...).Err()
	}
	return nil
}

// Doc is the value of the value-size series: an id and a body of text.
type Doc struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// words make the bodies: text of common words, drawn at random, which S2
// compresses to about 40% (see the report's stored sizes).
var words = strings.Fields(`the of and to in is that for it as with was on be by at this from or an are
not have had but which one all were they their there been has more when will would who so no can said
cache value key order customer product price stock shipped delivered invoice account user session
request response server client region zone tenant catalog item review rating cart checkout payment`)

// makeDoc is the doc of id whose JSON is about size bytes.
func makeDoc(id string, size int) Doc {
	r := rand.New(rand.NewPCG(uint64(len(id)), uint64(size)))
	var b strings.Builder
	b.Grow(size)
	for b.Len() < size-20 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return Doc{ID: id, Body: b.String()}
}
