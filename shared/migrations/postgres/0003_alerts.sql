-- The watchdog's alerting state (crate telbot-alerts). Timestamps are unix seconds.

-- One row per incident key ("bot-down", "webhook-stuck", ...): the flap-damping counters and
-- what was last told to people, so a restarted watchdog does not notify twice.
-- state: 'ok' | 'pending' (failing, below failure_threshold) | 'open' (notified or held).
CREATE TABLE IF NOT EXISTS alert_incidents (
    incident_key          TEXT   PRIMARY KEY,
    state                 TEXT   NOT NULL,
    level                 TEXT   NOT NULL,
    consecutive_failures  BIGINT NOT NULL DEFAULT 0,
    consecutive_successes BIGINT NOT NULL DEFAULT 0,
    first_failure_at      BIGINT,
    opened_at             BIGINT,
    last_seen_at          BIGINT NOT NULL,
    last_notified_at      BIGINT,
    notified_level        TEXT,
    silenced_until        BIGINT,
    held                  BIGINT NOT NULL DEFAULT 0,
    summary               TEXT   NOT NULL DEFAULT '',
    observation           TEXT,
    resolved_at           BIGINT,
    updated_at            BIGINT NOT NULL
);

-- Messages waiting to be delivered, one row per channel; retried with back-off, never dropped.
-- status: 'pending' | 'sending' (claimed; lease in next_attempt_at) | 'sent' | 'failed'.
CREATE TABLE IF NOT EXISTS alert_outbox (
    id              BIGSERIAL PRIMARY KEY,
    incident_key    TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    level           TEXT   NOT NULL,
    channel         TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    body_text       TEXT   NOT NULL,
    body_html       TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    alert_id        BIGINT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (status, next_attempt_at);

-- Silences asked for with `watchdog silence <incident|all> --for 2h`.
CREATE TABLE IF NOT EXISTS alert_silences (
    id         BIGSERIAL PRIMARY KEY,
    target     TEXT   NOT NULL,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_silences_ends ON alert_silences (ends_at);
