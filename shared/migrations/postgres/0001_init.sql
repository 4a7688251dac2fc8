-- The durable inbox: an update is here before Telegram gets its 200.
-- status: 0 pending, 1 done, 2 parked (handler gave up), 3 skipped (kind this build cannot parse).
CREATE TABLE IF NOT EXISTS inbox (
    seq         BIGSERIAL PRIMARY KEY,
    update_id   BIGINT  NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,
    queue_key   TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    status      BIGINT  NOT NULL DEFAULT 0,
    attempts    BIGINT  NOT NULL DEFAULT 0,
    last_error  TEXT,
    received_at BIGINT  NOT NULL,
    done_at     BIGINT
);
CREATE INDEX IF NOT EXISTS inbox_status_seq ON inbox (status, seq);
CREATE INDEX IF NOT EXISTS inbox_done_at ON inbox (done_at);

-- Multi-step conversations of the reference bot, expiring after a TTL.
CREATE TABLE IF NOT EXISTS pending_actions (
    chat_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    action     TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX IF NOT EXISTS pending_actions_expires ON pending_actions (expires_at);

-- What users sent through the reference bot's /report conversation.
CREATE TABLE IF NOT EXISTS reports (
    id         BIGSERIAL PRIMARY KEY,
    chat_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    text       TEXT,
    latitude   DOUBLE PRECISION,
    longitude  DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);

-- Small named values both daemons keep (e.g. the watchdog's previous pending count).
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What the watchdog did, for alerts and the dashboard.
CREATE TABLE IF NOT EXISTS wd_actions (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    detail      TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);

-- Notifications the watchdog sent or tried to send.
CREATE TABLE IF NOT EXISTS wd_alerts (
    id           BIGSERIAL PRIMARY KEY,
    incident_key TEXT   NOT NULL,
    level        TEXT   NOT NULL,
    channel      TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT
);
