//! telbot's chaos suite, as a library: the real `bot-server` and `watchdog` binaries against
//! telegram-sim (in this process), a real SMTP listener and a real database, one fault per row
//! while a load of `/ping <chat>-<n>` messages runs, and a table of what happened.
//!
//! - [`proxy`]: the fault proxies (Bot API side and webhook side) and a TCP gate (SMTP down).
//! - [`procs`]: finding/building the binaries; child processes killed on drop.
//! - [`stack`]: one row's world: sim, proxies, mail catcher, store, the two daemons.
//! - [`load`]: the load generator and its ledger (what was sent per chat, in order).
//! - [`account`]: the accounting and the pass criteria of a row.
//! - [`rows`]: the rows; [`faults`]: what each does; [`runner`]: running a row; [`table`]: the table.
//! - [`tmpfs`]: a small tmpfs for "the SQLite volume is full", unmounted on drop.
//! - [`verdicts`]: the checks particular to one row (beyond the table's columns).
//! - [`soak`]: the long soak run; [`fleet`]: several bot-servers behind haproxy;
//!   [`fleet_bench`]: the fleet's throughput benchmark.
//!
//! Everything listens on 127.0.0.1 on free ports; every wait is bounded.

pub mod account;
pub mod faults;
pub mod fleet;
pub mod fleet_bench;
pub mod load;
pub mod procs;
pub mod proxy;
pub mod rows;
pub mod runner;
pub mod soak;
pub mod stack;
pub mod table;
pub mod tmpfs;
pub mod verdicts;

use std::time::Duration;

/// What can go wrong setting up or running a row (not a failed criterion: those are
/// reported in the row's result).
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// Something the harness needs could not be started.
    #[error("setup: {0}")]
    Setup(String),
    /// An I/O error, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// No row has this name.
    #[error("unknown row {0:?} (see --list)")]
    UnknownRow(String),
}

impl ChaosError {
    pub(crate) fn io(what: &'static str, source: std::io::Error) -> Self {
        ChaosError::Io { what, source }
    }
}

/// Which durations and load a row runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Durations a tenth of the full ones, a smaller load (CI).
    Short,
    /// The durations the issue names (30 s, 60 s, …) and the full load.
    Full,
}

impl Variant {
    /// A duration given in full-variant seconds, scaled for this variant.
    pub fn secs(self, full: f64) -> Duration {
        match self {
            Variant::Short => Duration::from_secs_f64(full / 10.0),
            Variant::Full => Duration::from_secs_f64(full),
        }
    }

    /// Chats the load talks in.
    pub fn chats(self) -> usize {
        match self {
            Variant::Short => 100,
            Variant::Full => 300,
        }
    }

    /// Updates per second the load injects.
    pub fn rate(self) -> u32 {
        match self {
            Variant::Short => 100,
            Variant::Full => 300,
        }
    }

    /// Load before the fault.
    pub fn warmup(self) -> Duration {
        match self {
            Variant::Short => Duration::from_secs(1),
            Variant::Full => Duration::from_secs(5),
        }
    }

    /// How long after the fault ends the system may take to be healthy again by itself.
    pub fn heal_bound(self) -> Duration {
        match self {
            Variant::Short => Duration::from_secs(45),
            Variant::Full => Duration::from_secs(180),
        }
    }

    /// The Bot API request timeout both daemons run with (scaled like the faults, so a
    /// "slow" call is slower than the timeout in both variants).
    pub fn request_timeout(self) -> Duration {
        match self {
            Variant::Short => Duration::from_secs(2),
            Variant::Full => Duration::from_secs(10),
        }
    }
}
