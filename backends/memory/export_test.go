package memory

// TagStampsForTest returns how many tag stamps c keeps.
func (c *Cache[V]) TagStampsForTest() int {
	t := &c.tags
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.stamps)
}
