//! Recent figures kept in memory in fixed-size rings (no unbounded growth): the last ack
//! latencies ([`AckRing`]), the last hour of chart samples ([`History`]) and of finished
//! updates' response times ([`responses::HourWindow`]). Written by the
//! webhook route and the dashboard's sampler, read by the dashboard.

pub(crate) mod acks;
pub(crate) mod history;
pub(crate) mod responses;

pub(crate) use acks::AckRing;
pub(crate) use history::{History, Sample};
