//! The integration tests of `telbot-reference-bot`, in one binary: the reference bot's
//! conversations (in-process), and the `bot-server` binary it builds as a real process. The
//! set-up helpers are bot-server's own (`bot-server/tests/it/common`), shared, not copied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bot;
#[path = "../../../../bot-server/tests/it/common/mod.rs"]
mod common;
mod faults;
mod log_file;
mod process;
