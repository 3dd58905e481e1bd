package hoardredis

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Defaults of [StreamQueueOptions].
const (
	// defaultStreamQueueName is the queue's Name.
	defaultStreamQueueName = "writebehind"
	// defaultStreamQueueKeyPrefix starts the queue's keys.
	defaultStreamQueueKeyPrefix = "hoard:wb:"
	// defaultStreamQueueGroup is the stream's consumer group.
	defaultStreamQueueGroup = "hoard"
	// defaultStreamQueueLen bounds the writes enqueued and not yet
	// acknowledged.
	defaultStreamQueueLen = 100_000
	// defaultStreamMaxValueBytes is the longest encoded value enqueued.
	defaultStreamMaxValueBytes = 1 << 20
	// defaultClaimIdle is how long a taken write may stay unacknowledged
	// before another consumer claims it.
	defaultClaimIdle = 30 * time.Second
	// defaultStreamBlock bounds each blocking read.
	defaultStreamBlock = 100 * time.Millisecond
	// defaultStreamPollInterval is how often a waiting Enqueue or Flush
	// looks at the stream again.
	defaultStreamPollInterval = 50 * time.Millisecond
	// defaultStreamConsumerExpiry is how long a consumer with nothing
	// pending may stay idle before it is removed from the group.
	defaultStreamConsumerExpiry = 24 * time.Hour
)

// StreamQueueOptions configure a [StreamQueue]. The zero value takes every
// default.
type StreamQueueOptions struct {
	// Name names the queue. Its stream is the key KeyPrefix+"{Name}"
	// ("hoard:wb:{writebehind}" by default) and its depth counter that
	// key + ":depth": one hash slot, so the queue works on Redis Cluster.
	// Every process that should share the queue (and take over each
	// other's writes) uses the same KeyPrefix and Name. It may not hold
	// '{' or '}'. Default: "writebehind".
	Name string

	// KeyPrefix starts the queue's keys, so that they can live under an
	// application's prefix (a Redis ACL user limited to ~app:* needs it).
	// It may not hold '{' or '}'. Default: "hoard:wb:".
	KeyPrefix string

	// Group is the stream's consumer group. Default:
	// "hoard".
	Group string

	// Consumer names this queue in the group; every process needs its
	// own. Default: host name, process id and random bytes.
	Consumer string

	// Codec encodes the values in the stream. Default: hoard.JSON.
	Codec hoard.Codec

	// MaxLen bounds the writes enqueued and not yet acknowledged, over
	// every process sharing the queue. Default: 100_000.
	MaxLen int64

	// MaxValueBytes refuses to enqueue a value whose encoding is longer,
	// with [hoard.ErrTooLarge]; a longer payload read back is corrupt.
	// Default: 1 << 20.
	MaxValueBytes int

	// ClaimIdle is how long a write may stay taken by a consumer that
	// does not acknowledge it before another consumer claims it
	// (XAUTOCLAIM): the time a dead process's writes wait. A live
	// consumer keeps the writes it is storing claimed, so a slow store
	// does not hand them to another. Default: 30 * time.Second.
	ClaimIdle time.Duration

	// ClaimInterval is how often a consumer looks for writes to claim.
	// Default: ClaimIdle/4.
	ClaimInterval time.Duration

	// ConsumerExpiry is how long a consumer with no pending write may stay
	// idle before it is removed from the group (so the group does not
	// grow with every restart). A negative value keeps them. Default:
	// 24 * time.Hour.
	ConsumerExpiry time.Duration

	// Block bounds each blocking read (XREADGROUP BLOCK), and so how long
	// Close may wait for a worker. Default: 100 * time.Millisecond.
	Block time.Duration

	// PollInterval is how often an Enqueue waiting for room, and a Flush,
	// look at the stream again (acknowledgements in this process wake
	// them sooner). Default: 50 * time.Millisecond.
	PollInterval time.Duration
}

// validate returns an error wrapping [hoard.ErrInvalidOption] for the
// first option out of range.
func (o *StreamQueueOptions) validate() error {
	switch {
	case strings.ContainsAny(o.Name, "{}"):
		return fmt.Errorf("%w: stream queue: Name %q holds a brace", hoard.ErrInvalidOption, o.Name)
	case strings.ContainsAny(o.KeyPrefix, "{}"):
		return fmt.Errorf("%w: stream queue: KeyPrefix %q holds a brace", hoard.ErrInvalidOption, o.KeyPrefix)
	case o.MaxLen < 0:
		return fmt.Errorf("%w: stream queue %q: MaxLen %d is negative", hoard.ErrInvalidOption, o.Name, o.MaxLen)
	case o.MaxValueBytes < 0:
		return fmt.Errorf("%w: stream queue %q: MaxValueBytes %d is negative", hoard.ErrInvalidOption, o.Name, o.MaxValueBytes)
	case o.ClaimIdle < 0 || (o.ClaimIdle > 0 && o.ClaimIdle < 3*time.Millisecond):
		return fmt.Errorf("%w: stream queue %q: ClaimIdle %v is negative or below 3ms", hoard.ErrInvalidOption, o.Name, o.ClaimIdle)
	case o.ClaimInterval < 0:
		return fmt.Errorf("%w: stream queue %q: ClaimInterval %v is negative", hoard.ErrInvalidOption, o.Name, o.ClaimInterval)
	case o.Block < 0 || (o.Block > 0 && o.Block < time.Millisecond):
		return fmt.Errorf("%w: stream queue %q: Block %v is negative or below Redis's 1ms", hoard.ErrInvalidOption, o.Name, o.Block)
	case o.PollInterval < 0:
		return fmt.Errorf("%w: stream queue %q: PollInterval %v is negative", hoard.ErrInvalidOption, o.Name, o.PollInterval)
	}
	return nil
}

// withDefaults fills in the default of every option left zero.
func (o StreamQueueOptions) withDefaults() StreamQueueOptions {
	if o.Name == "" {
		o.Name = defaultStreamQueueName
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = defaultStreamQueueKeyPrefix
	}
	if o.Group == "" {
		o.Group = defaultStreamQueueGroup
	}
	if o.Consumer == "" {
		o.Consumer = defaultConsumerName()
	}
	o.Codec = defaults.Codec(o.Codec)
	if o.MaxLen == 0 {
		o.MaxLen = defaultStreamQueueLen
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = defaultStreamMaxValueBytes
	}
	if o.ClaimIdle == 0 {
		o.ClaimIdle = defaultClaimIdle
	}
	if o.ClaimInterval == 0 {
		o.ClaimInterval = o.ClaimIdle / 4
	}
	if o.ConsumerExpiry == 0 {
		o.ConsumerExpiry = defaultStreamConsumerExpiry
	}
	if o.Block == 0 {
		o.Block = defaultStreamBlock
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultStreamPollInterval
	}
	return o
}

// defaultConsumerName is host-pid-random: unique per process, readable in
// XINFO CONSUMERS.
func defaultConsumerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
