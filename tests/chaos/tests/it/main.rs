//! The integration tests of `chaos`, in one binary (one link instead of 5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;
mod fleet;
mod proxy;
mod short;
mod soak;
