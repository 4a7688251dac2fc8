//! The integration tests of `demo`, in one binary (one link instead of 5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod demo;
mod deploy_k8s;
mod deploy_render;
mod deploy_systemd;
mod examples;
mod readme_config;
