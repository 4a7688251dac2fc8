//! The integration tests of `watchdog`, in one binary (one link instead of 10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerting;
mod backup;
mod blind;
mod checks_fire;
mod cli;
mod common;
mod deploy_watch;
mod digest;
mod failover;
mod fake_bot;
mod fleet;
mod heartbeat;
mod leader_state;
mod log_file;
mod metrics;
mod postgres;
mod prometheus_rules;
mod recovery_edges;
mod recovery_guard;
mod registered;
mod replay_methods;
mod replay_parked;
mod replay_replies;
mod scenarios;
mod schedule;
mod tls;
