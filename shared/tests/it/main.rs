//! The integration tests of `shared`, in one binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod architecture;
mod client;
mod logging;
mod pooler;
