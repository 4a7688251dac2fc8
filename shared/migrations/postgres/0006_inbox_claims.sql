-- Several bot-servers on one PostgreSQL share the inbox by claiming rows: the instance that
-- claimed a row (claimed_by) owns it until claimed_until (unix milliseconds, the database's
-- clock), extends that while its handler runs, and finishes it only while it still owns it.
-- An expired claim (a killed instance) is taken over. SQLite runs one bot-server per file
-- and leaves both columns empty.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claimed_until BIGINT;
-- The claim reads the head of every queue key among the pending rows, and looks for live
-- claims on a key: both from small partial indexes.
CREATE INDEX IF NOT EXISTS inbox_pending_key_seq ON inbox (queue_key, seq) WHERE status = 0;
CREATE INDEX IF NOT EXISTS inbox_claimed_key ON inbox (queue_key)
    WHERE status = 0 AND claimed_until IS NOT NULL;
