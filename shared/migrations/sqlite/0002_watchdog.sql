-- The watchdog's runs: one row per check pass, with its level and the whole report (JSON),
-- for the dashboard and the alerts pipeline. Old rows are pruned by the watchdog.
CREATE TABLE IF NOT EXISTS wd_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run         TEXT   NOT NULL,
    level       TEXT   NOT NULL,
    report      TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS wd_runs_started ON wd_runs (started_at);

-- Cooldowns and hourly caps look actions up by kind and time.
CREATE INDEX IF NOT EXISTS wd_actions_kind_started ON wd_actions (kind, started_at);
