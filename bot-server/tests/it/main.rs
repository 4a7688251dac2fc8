//! The integration tests of `bot-server`, in one binary (one link instead of 18). The
//! reference bot's own tests, and those of the `bot-server` binary, are in
//! `crates/reference-bot/tests/it`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_login;
mod bot_identity;
mod browser;
mod canary;
mod common;
mod config_props;
mod dashboard;
mod dialogues;
mod failures;
mod fleet;
mod flood;
mod guards;
mod http;
mod ingest;
mod late_commit;
mod modes;
mod panics;
mod pooled_fleet;
mod programs;
mod prometheus;
mod read_replica;
mod refresh_status;
mod reply_in_answer;
mod store_health;
mod stored_replies;
mod teloxide_bot;
mod token_conflict;
mod upkeep;
mod wd;
mod webhook_fidelity;
mod webhook_guard;
mod webhook_health_cache;
