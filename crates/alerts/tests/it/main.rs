//! The integration tests of `alerts`, in one binary (one link instead of 7).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod config;
mod escalation;
mod http_channels;
mod pipeline;
mod postgres;
mod sms_channel;
mod smtp;
mod webhook_channel;
