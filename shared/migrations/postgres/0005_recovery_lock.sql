-- The one recovery lock both daemons take before touching the webhook (the dashboard's and
-- `POST /webhook/recover`'s recovery in bot-server, the watchdog's): a lease row with its
-- owner and expiry, taken with a compare-and-set upsert. No advisory locks, so it works
-- through a transaction-mode pooler. A lease that was not renewed before expires_at (a
-- killed process) may be taken over.
CREATE TABLE IF NOT EXISTS recovery_lock (
    name        TEXT   PRIMARY KEY,
    owner       TEXT   NOT NULL,
    token       TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
