//! The integration tests of `telegram-sim`, in one binary (one link instead of 10).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod binary;
mod common;
mod control;
mod delivery;
mod delivery_errors;
mod get_updates;
mod readbacks;
mod set_webhook;
mod teloxide_client;
mod updates;
