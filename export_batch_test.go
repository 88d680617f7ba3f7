package scdb

// BatchWaiting is the number of Batch calls waiting for their leader to
// take them, for tests that need a batch to fill before it runs.
func BatchWaiting(db *DB) int {
	db.batch.mu.Lock()
	defer db.batch.mu.Unlock()
	if db.batch.pending == nil {
		return 0
	}
	return len(db.batch.pending.calls)
}
