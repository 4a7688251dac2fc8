-- Several bot-servers on one PostgreSQL share the inbox by claiming rows: the instance that
-- claimed a row (claimed_by) owns it until claimed_until (unix milliseconds, the database's
-- clock), extends that while its handler runs, and finishes it only while it still owns it.
-- An expired claim (a killed instance) is taken over. SQLite runs one bot-server per file
-- and leaves both columns empty.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claimed_until BIGINT;
