//! Recent figures kept in memory in fixed-size rings (no unbounded growth): the last ack
//! latencies ([`AckRing`]), the last hour of chart samples ([`History`]) and of finished
//! updates' response times ([`responses::HourWindow`]). Written by the
//! webhook route and the dashboard's sampler, read by the dashboard.

pub mod acks;
pub mod history;
pub mod responses;

pub use acks::AckRing;
pub use history::{History, Sample};
