//! The `/health` document bot-server serves and the watchdog reads (DESIGN.md's contract).
//! Reading is lenient (`#[serde(default)]`) so a watchdog can read an older or newer bot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Overall state: `ok` and `degraded` answer 200, `down` answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    #[default]
    Ok,
    /// Serving, with a problem (e.g. polling fallback, an outside API down).
    Degraded,
    /// Cannot take updates (e.g. the store is down).
    Down,
}

/// One dependency's state, `checks.<name>` in the document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// `ok`, `degraded` or `down`.
    pub status: Status,
    /// What is wrong, for a person (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Circuit-breaker state for outside APIs: `closed`, `open`, `half_open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit: Option<String>,
}

/// `process.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    /// Resident set size.
    pub rss_bytes: u64,
    /// CPU use of this process, percent of the whole machine.
    pub cpu_percent: f32,
    /// The configured RSS limit.
    #[serde(default)]
    pub rss_limit_bytes: u64,
}

/// `system.*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemStats {
    /// Used memory, percent.
    pub memory_percent: f32,
    /// Used space on the data disk, percent.
    pub disk_percent: f32,
    /// The figures past the bot's configured warning levels (`limits.*_warn_percent`), for a
    /// person: e.g. "system memory 85 % (warning at 80 %)". Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `jobs.<name>` — one periodic job of the bot (the inbox prune, the dialogue sweep, the
/// store ping): when it last ran, what it removed, and whether it is late.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// How often it should run, seconds.
    pub every_s: u64,
    /// When it last finished, unix seconds (`None`: not yet).
    #[serde(default)]
    pub last_run: Option<i64>,
    /// Rows it removed on its last run.
    #[serde(default)]
    pub last_removed: u64,
    /// Rows it removed since start.
    #[serde(default)]
    pub removed_total: u64,
    /// Runs since start.
    #[serde(default)]
    pub runs: u64,
    /// Its last run's error (never a secret), if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Not run (or failed) for more than twice its interval past what was due.
    #[serde(default)]
    pub late: bool,
}

/// `hour.*` — the last hour's finished updates as the users felt them (the ops notes' daily
/// checklist: success rate > 95 %, response times < 5 s).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HourFigures {
    /// Updates finished in the last hour (handled, skipped or parked).
    pub finished: u64,
    /// Of those, parked (their handler gave up).
    pub parked: u64,
    /// The share handled without being parked, percent (`None`: nothing finished).
    #[serde(default)]
    pub handled_percent: Option<f64>,
    /// Update stored → its handler finished (its replies sent), median, milliseconds.
    #[serde(default)]
    pub response_p50_ms: Option<u64>,
    /// The same, 95th percentile.
    #[serde(default)]
    pub response_p95_ms: Option<u64>,
}

/// `updates.*` — counters since start, and the inbox backlog now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    /// Stored and acknowledged (duplicates not counted).
    pub received: u64,
    /// Handled, or skipped as a kind this build cannot parse.
    pub processed: u64,
    /// Handler attempts that failed (transient and permanent), since start.
    pub failed: u64,
    /// Redeliveries recognised by update_id.
    pub duplicates: u64,
    /// Acknowledged and not yet processed.
    pub inbox_depth: u64,
    /// Parked updates in the store now, also from earlier runs: a permanent handler failure
    /// after the last attempt, or Telegram's 24 h passed; kept until replayed or discarded.
    #[serde(default)]
    pub parked: u64,
    /// Kinds this build cannot parse (stored raw).
    #[serde(default)]
    pub unknown: u64,
    /// Updates whose handler runs now (with its retries) on this instance.
    #[serde(default)]
    pub running: u64,
    /// Updates this instance holds in memory (waiting for their chat, or running).
    #[serde(default)]
    pub loaded: u64,
}

/// The whole `/health` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Overall state.
    pub status: Status,
    /// Crate version.
    #[serde(default)]
    pub version: String,
    /// Seconds since start.
    #[serde(default)]
    pub uptime_s: u64,
    /// The live mode: `webhook` or `polling`.
    #[serde(default)]
    pub mode: String,
    /// Per-dependency state: `store`, `telegram`, `openai`, ….
    #[serde(default)]
    pub checks: BTreeMap<String, CheckStatus>,
    /// This process.
    #[serde(default)]
    pub process: ProcessStats,
    /// The machine.
    #[serde(default)]
    pub system: SystemStats,
    /// Update counters.
    #[serde(default)]
    pub updates: UpdateStats,
    /// Open multi-step actions.
    #[serde(default)]
    pub pending_actions: u64,
    /// The periodic jobs, by name.
    #[serde(default)]
    pub jobs: BTreeMap<String, JobStatus>,
    /// The last hour's figures.
    #[serde(default)]
    pub hour: HourFigures,
}
