-- The dispatcher reads one queue key's backlog (a busy chat past inbox.max_loaded_per_key) in
-- order: WHERE queue_key = ? AND status = 0 AND seq > ? ORDER BY seq.
-- Status 4: a parked update an operator discarded (kept for dedup, pruned like done ones).
CREATE INDEX IF NOT EXISTS inbox_key_status_seq ON inbox (queue_key, status, seq);
