package hoardredis

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/internal/defaults"
)

// Defaults of [BusOptions].
const (
	// defaultBusChannel is the channel a bus publishes on and listens to.
	defaultBusChannel = "hoard:invalidation"
	// defaultBusMaxBatch is how many events one message carries at most.
	defaultBusMaxBatch = 256
	// defaultBusQueueSize is how many Publish calls wait for the publisher.
	defaultBusQueueSize = 1024
	// defaultBusHandlerQueueSize is how many received messages wait for the
	// handlers.
	defaultBusHandlerQueueSize = 1024
	// defaultBusPingInterval is how long a quiet subscription waits before
	// it pings Redis, and then for the answer.
	defaultBusPingInterval = 5 * time.Second
	// defaultBusMaxSenders is how many senders a bus keeps sequence
	// numbers of.
	defaultBusMaxSenders = 10_000
	// defaultBusSenderTTL is how long a bus remembers a quiet sender.
	defaultBusSenderTTL = 24 * time.Hour
	// defaultBusMaxStaleness is how long the subscription may be down
	// before the bus flushes: hoard.InvalidatorOptions.MaxStaleness's
	// default, so keys and tags share one bound.
	defaultBusMaxStaleness = time.Second
)

// BusOptions configure a [Bus]. The zero BusOptions (or nil) give the
// defaults.
type BusOptions struct {
	// Channel is the pub/sub channel of the bus: every instance of a
	// service uses the same one, and services that share a Redis but not
	// keys use different ones. On a Cluster it is a sharded channel, served
	// by the shard that owns its hash slot. Default: "hoard:invalidation".
	Channel string

	// InstanceID names this instance in its messages; an instance ignores
	// messages that carry its own id. 1 to 255 bytes, unique among the
	// instances on the channel. A restarted instance that keeps its id
	// starts its sequence again at 1, which makes the others flush their
	// memory tiers once. Default: 128 random bits in hex.
	InstanceID string

	// MaxBatch is how many events one message carries at most. Publish
	// calls that arrive while the publisher is sending ride together in the
	// next message, up to MaxBatch events (and about 64 KiB). Default:
	// 256; at most 65536.
	MaxBatch int

	// BatchWindow is how long the publisher waits for more events before it
	// sends a message that is not full. 0 sends at once: under light load
	// an event goes out alone with no delay, and under load events batch
	// anyway, while the previous message is on the wire. Default: 0.
	BatchWindow time.Duration

	// QueueSize is how many Publish calls may wait for the publisher; more
	// block in Publish until there is room or their ctx ends. Default:
	// 1024.
	QueueSize int

	// HandlerQueueSize is how many received messages may wait for slow
	// handlers. When it is full the bus stops queueing what it receives
	// and delivers an InvalidateAll instead, in their place, so Redis is
	// read at full speed and nothing is dropped unannounced. Default:
	// 1024.
	HandlerQueueSize int

	// PingInterval is how long a subscription may stay quiet before the
	// bus pings Redis over it; a ping unanswered for as long again counts
	// as a broken connection (reconnect, flush). Default:
	// 5 * time.Second; at least 10ms.
	PingInterval time.Duration

	// MaxSenders bounds the senders whose sequence numbers the bus keeps;
	// past it, the one heard from longest ago is forgotten. Default:
	// 10_000.
	MaxSenders int

	// SenderTTL is how long the bus remembers a sender it no longer hears
	// from. A forgotten sender that speaks again makes the bus flush once
	// (it cannot tell what it missed). Default: 24 * time.Hour.
	SenderTTL time.Duration

	// MaxStaleness bounds how long a memory tier served by the bus keeps
	// a value whose invalidation the bus could not receive because its
	// subscription was down. Once the subscription has been down for
	// MaxStaleness, counted from the last time it heard from Redis, the bus
	// delivers an InvalidateAll, and again every MaxStaleness while it
	// stays down, each time the channel's node answers a command of the
	// bus's client (an EXISTS of the channel's name): while this instance
	// cannot reach that node at all, it cannot have missed a message
	// published through it, and its memory tiers keep serving (their
	// MemoryTTL still bounds them), as an Invalidator keeps the last
	// namespace version it knew. The subscription made again flushes
	// too; while it is down the bus tries to make it again at least every
	// MaxStaleness/4 (and at once when the probe is answered), so once
	// Redis is back this instance is deaf to the others' invalidations
	// for about that long at most. A connection that hangs is noticed
	// only after PingInterval of quiet and as long again for the ping.
	// Negative: no flush until the subscription is made again. Default:
	// time.Second, as hoard.InvalidatorOptions.MaxStaleness; at least
	// 10ms.
	MaxStaleness time.Duration

	// Logger receives reconnects, gaps, malformed messages, publish
	// failures and flushes while the subscription is down. Default:
	// slog.Default().
	Logger *slog.Logger

	// Clock reads the time for the sender bookkeeping. Default: the system
	// clock.
	Clock hoard.Clock
}

func (o *BusOptions) validate() error {
	switch {
	case len(o.InstanceID) > maxInstanceID:
		return fmt.Errorf("%w: redis bus: InstanceID of %d bytes, more than %d", hoard.ErrInvalidOption, len(o.InstanceID), maxInstanceID)
	case o.MaxBatch < 0 || o.MaxBatch > maxBusEvents:
		return fmt.Errorf("%w: redis bus: MaxBatch %d is outside 0..%d", hoard.ErrInvalidOption, o.MaxBatch, maxBusEvents)
	case o.BatchWindow < 0:
		return fmt.Errorf("%w: redis bus: BatchWindow %v is negative", hoard.ErrInvalidOption, o.BatchWindow)
	case o.QueueSize < 0:
		return fmt.Errorf("%w: redis bus: QueueSize %d is negative", hoard.ErrInvalidOption, o.QueueSize)
	case o.HandlerQueueSize < 0:
		return fmt.Errorf("%w: redis bus: HandlerQueueSize %d is negative", hoard.ErrInvalidOption, o.HandlerQueueSize)
	case o.PingInterval < 0 || o.PingInterval > 0 && o.PingInterval < 10*time.Millisecond:
		return fmt.Errorf("%w: redis bus: PingInterval %v is negative or under 10ms", hoard.ErrInvalidOption, o.PingInterval)
	case o.MaxSenders < 0:
		return fmt.Errorf("%w: redis bus: MaxSenders %d is negative", hoard.ErrInvalidOption, o.MaxSenders)
	case o.SenderTTL < 0:
		return fmt.Errorf("%w: redis bus: SenderTTL %v is negative", hoard.ErrInvalidOption, o.SenderTTL)
	case o.MaxStaleness > 0 && o.MaxStaleness < 10*time.Millisecond:
		return fmt.Errorf("%w: redis bus: MaxStaleness %v is under 10ms", hoard.ErrInvalidOption, o.MaxStaleness)
	}
	return nil
}

func (o BusOptions) withDefaults() BusOptions {
	if o.Channel == "" {
		o.Channel = defaultBusChannel
	}
	if o.InstanceID == "" {
		o.InstanceID = randomInstanceID()
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = defaultBusMaxBatch
	}
	if o.QueueSize == 0 {
		o.QueueSize = defaultBusQueueSize
	}
	if o.HandlerQueueSize == 0 {
		o.HandlerQueueSize = defaultBusHandlerQueueSize
	}
	if o.PingInterval == 0 {
		o.PingInterval = defaultBusPingInterval
	}
	if o.MaxSenders == 0 {
		o.MaxSenders = defaultBusMaxSenders
	}
	if o.SenderTTL == 0 {
		o.SenderTTL = defaultBusSenderTTL
	}
	if o.MaxStaleness == 0 {
		o.MaxStaleness = defaultBusMaxStaleness
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Clock = defaults.Clock(o.Clock)
	return o
}

// randomInstanceID returns 128 random bits in hex.
func randomInstanceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
