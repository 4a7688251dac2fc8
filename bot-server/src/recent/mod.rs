//! Recent figures kept in memory in fixed-size rings (no unbounded growth): the last ack
//! latencies ([`AckRing`]) and the last hour of chart samples ([`History`]). Written by the
//! webhook route and the dashboard's sampler, read by the dashboard.

pub mod acks;
pub mod history;

pub use acks::AckRing;
pub use history::{History, Sample};
