//! telbot's watchdog, as a library (the `watchdog` binary only parses arguments and wires).
//!
//! A run is **Check → Finding → Rule → Action → AlertSink**:
//!
//! - `config`: `[watchdog]` (+ the parts of `[webhook]`, `[limits]` it reads) validated at
//!   start into `config::WatchdogConfig`; every bad key on its own line.
//! - `schedule`: cron triggers (seconds, UTC) or intervals request runs; one worker performs
//!   them one at a time; a tick during a run waits for it (coalesced per kind), never dropped.
//! - `checks`: `telegram` (getMe, getWebhookInfo judged by age), `bot` (/health liveness,
//!   memory, performance), `conflict` (another process using the token), `integration` (401
//!   without the secret, /webhook/health), `blind` (a run that saw nothing acts on nothing).
//! - `gather`: one run's checks under one deadline, each side's silence kept apart.
//! - `manual`: the dashboard's "Refresh status" requests, answered by a full pass.
//! - `report`: [`Finding`], [`Level`], [`ActionReport`], [`RunReport`] — the types the
//!   alerts crate consumes.
//! - `rules`: findings → actions (pure, table-tested).
//! - `actions`: cooldowns and hourly caps around each action; `actions::restart`.
//! - `recovery`: setWebhook, lossless delete → drain → replay → set (with its phase persisted
//!   so an interrupted one is finished), and drop mode.
//! - `store`: actions, runs and recovery state in the shared database.
//! - `alert`: the [`AlertSink`] trait the alerting pipeline plugs into; `alert::LogSink`.
//! - `alerting`: `alerting::PipelineSink`, the bridge to `telbot-alerts` (e-mail, chat
//!   webhooks, one message per incident, heartbeat).
//! - `clock`: injectable wall-clock time.
//! - `context`: the run context `Ctx` every check, action and report reaches the world through.
//! - `watchdog`: [`Watchdog`]: runs, `check`, `recover` and the daemon (`run`).
//! - `deploy`: `preflight` and `verify`.
//! - `deploy_watch`: the daemon's own post-deploy verification: a new process in `/health`
//!   is verified once (`deploy-verify`), the result kept in the store for the dashboard.
//! - `digest`: the daily digest (`watchdog digest`, `watchdog.schedule.digest`): the ops
//!   notes' daily checklist answered from the store, e-mailed.
//! - `weekly`: the weekly report (`watchdog report --week`, `watchdog.schedule.weekly`);
//!   `reports` mails either report.
//! - `backup`: SQLite online backups (`watchdog backup now|verify`, `schedule.backup`).
//! - `drill`: the scheduled recovery drill.
//! - `failover`: switching the webhook to a backup URL and back.
//! - `metrics`: the watchdog's Prometheus metrics on an optional listen address.
//! - `parked`: `replay-parked`, through the bot's `/admin/parked/*` routes.
//! - `bots`: `[[bots]]`: one watchdog process for several bots, each with its own config
//!   layers, store and alert pipeline.
//! - `app`: `app::Plan::load` (every setting, read once) and `app::App::build` (one
//!   store pool per bot for the watchdog and its alerts): the wiring the CLI and the demo share.
//! - [`cli`]: the command line and its exit codes.

#![warn(unreachable_pub)]

mod actions;
mod alert;
mod alerting;
mod app;
mod backup;
mod bots;
mod checks;
pub mod cli;
mod clock;
mod config;
mod context;
mod deploy;
mod deploy_watch;
mod digest;
mod drill;
mod failover;
mod gather;
mod manual;
mod metrics;
mod parked;
mod recovery;
mod report;
mod reports;
mod rules;
mod schedule;
mod store;
mod watchdog;
mod weekly;

pub use alert::{AlertSink, BoxFuture, LogSink};
pub use alerting::PipelineSink;
pub use app::{App, Plan};
pub use backup::list as backups;
pub use checks::{canary, tls};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::WatchdogConfig;
pub use digest::Digest;
pub use report::{
    ActionKind, ActionReport, ActionResult, AlertDecision, Finding, Incident, Level, RunReport,
    incident,
};
pub use schedule::{RunKind, RunSet, Trigger};
pub use watchdog::{LEADER_TTL, Role, RunOutcome, Watchdog};
