//! The integration tests of `hostile`, in one binary (one link instead of 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;
mod careless;
