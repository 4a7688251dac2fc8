-- teloxide dialogues kept in the store (issue 14, part 2): `Dialogue<State, TelbotStorage>`
-- survives a restart and is shared by every instance on one PostgreSQL.
-- state: the dialogue's state as JSON (serde); expires_at: unix seconds after which the
-- dialogue counts as gone (NULL: never), removed by the sweep.
CREATE TABLE IF NOT EXISTS dialogues (
    chat_id    BIGINT PRIMARY KEY,
    state      TEXT   NOT NULL,
    expires_at BIGINT
);
CREATE INDEX IF NOT EXISTS dialogues_expires ON dialogues (expires_at);
