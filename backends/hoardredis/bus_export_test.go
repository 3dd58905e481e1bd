package hoardredis

import "github.com/hoard-cache/hoard"

// BusMessageForTest encodes a bus message, for tests that forge one.
func BusMessageForTest(sender string, seq, prevUS uint64, events ...hoard.Invalidation) []byte {
	return appendBusMessage(nil, &busHeader{sender: sender, seq: seq, prevUS: prevUS}, events)
}

// QueuedPublishesForTest returns how many Publish calls wait in the queue.
func (b *Bus) QueuedPublishesForTest() int { return len(b.reqs) }

// HandlerBacklogForTest returns how many received messages (or flushes)
// wait in the queue to the handlers, not yet taken by the dispatcher.
func (b *Bus) HandlerBacklogForTest() int {
	b.inbox.mu.Lock()
	defer b.inbox.mu.Unlock()
	return len(b.inbox.items)
}

// OutageProbesForTest returns how often the outage watch asked whether the
// channel's node answers.
func (b *Bus) OutageProbesForTest() uint64 { return b.stats.probes.Load() }
