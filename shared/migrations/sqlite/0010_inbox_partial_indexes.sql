-- The inbox's indexes hold only the rows their readers look for (issue 29). A commit used to
-- write about ten B-tree pages to the WAL: most handled rows stay in the inbox until the prune,
-- so every index entry of a new update and its completion moved between the indexes' "pending"
-- and "done" ends, two leaf pages apart. Measured on a closed-loop run: inbox_status_seq and
-- inbox_done_at 1.95 pages per commit each, inbox_key_status_seq 1.33.
-- Rows not done (pending, parked, skipped, discarded). SQLite uses a partial index only for a
-- query whose WHERE contains the index's condition as written, so every read by status adds
-- `status <> 1` (bot-server/src/inbox/sql.rs).
DROP INDEX IF EXISTS inbox_status_seq;
CREATE INDEX IF NOT EXISTS inbox_status_seq ON inbox (status, seq) WHERE status <> 1;
-- Finished rows, for the prune (`done_at < ?` implies NOT NULL: SQLite sees that by itself).
DROP INDEX IF EXISTS inbox_done_at;
CREATE INDEX IF NOT EXISTS inbox_done_at ON inbox (done_at) WHERE done_at IS NOT NULL;
-- One queue key's pending backlog (`queue_key = ? AND status = 0 AND seq > ?`).
DROP INDEX IF EXISTS inbox_key_status_seq;
CREATE INDEX IF NOT EXISTS inbox_key_pending ON inbox (queue_key, seq) WHERE status = 0;
