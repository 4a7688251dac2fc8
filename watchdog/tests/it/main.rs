//! The integration tests of `watchdog`, in one binary (one link instead of 10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerting;
mod blind;
mod cli;
mod common;
mod digest;
mod failover;
mod fleet;
mod leader_state;
mod metrics;
mod postgres;
mod prometheus_rules;
mod recovery_guard;
mod replay_parked;
mod scenarios;
