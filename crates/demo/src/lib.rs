//! telbot's one-command demo, as a library (the `telbot-demo` binary parses `--once` and
//! wires). Everything runs in one process on 127.0.0.1:
//!
//! - [`stack`]: starts telegram-sim, the catcher, bot-server (SQLite in a temp dir, webhook
//!   mode) and the watchdog daemon with fast schedules, all configured through the same
//!   environment names production uses.
//! - [`bridge`]: the watchdog's [`watchdog::AlertSink`] on top of `telbot-alerts`' pipeline,
//!   plus a timeline of the watchdog's recoveries for the report.
//! - [`script`]: the scripted incident (normal traffic → 500s → recovery and CRITICAL →
//!   fix and RESOLVED).
//! - [`report`]: the closing report, for people and as a final `DEMO_REPORT {json}` line.

pub mod bridge;
pub mod report;
pub mod script;
pub mod stack;
