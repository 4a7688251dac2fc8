//! The command line: what each command checks, changes and exits with (its `--help` is the
//! runbook), and the dispatch from a parsed command to the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod alerts;
mod backup;
mod run;

/// Exit code of a usage error (bad arguments).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when the store named by DATABASE_URL cannot be opened.
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit code of a configuration error.
pub const EXIT_CONFIG: u8 = 78;

/// telbot's watchdog: checks Telegram and the bot, repairs the webhook without losing
/// updates, restarts a dead bot, and tells the on-call engineer.
///
/// Configuration: config/default.toml (built in) → --config FILE or TELBOT_CONFIG →
/// TELBOT__SECTION__KEY → TELEGRAM_BOT_TOKEN, PUBLIC_URL, WEBHOOK_SECRET, BOT_URL,
/// DATABASE_URL, RENDER_API_KEY, RENDER_SERVICE_ID, … Logs: LOG_FORMAT=json, RUST_LOG.
///
/// Exit codes: 0 ok, 1 warning (or something was repaired), 2 critical,
/// 64 usage error, 69 store unavailable, 78 configuration error.
#[derive(Debug, Parser)]
#[command(name = "watchdog", version, propagate_version = true)]
pub struct Cli {
    /// A TOML file layered over the built-in defaults (else TELBOT_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only this bot: a `[[bots]]` entry's name (a fleet), or the one bot's alerts.bot_name.
    /// Without it every bot of a fleet is checked (concurrently) or acted on, one after the
    /// other, each one's output under a `== NAME ==` line. An unknown name exits 64.
    #[arg(long, global = true, value_name = "NAME")]
    pub bot: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: all schedules until SIGTERM/SIGINT.
    ///
    /// Checks: every 30 s Telegram (getMe, getWebhookInfo) and the bot's /health; every 5 min
    /// response time, store and handler success rate; every 15 min everything plus a webhook
    /// POST without the secret (must be 401) and /webhook/health (cron with seconds, UTC:
    /// watchdog.schedule.*).
    ///
    /// Changes: a wrong webhook URL is set again; a stuck webhook gets a lossless recovery
    /// (delete → drain → replay to the bot → set); a down or bloated bot is restarted and its
    /// webhook left alone. Each action has a cooldown and an hourly cap; past the cap the
    /// incident turns critical. An interrupted recovery is finished at start.
    ///
    /// Exit: 0 after a clean shutdown (a recovery in progress is finished first).
    Run {
        /// Check, judge and alert on every schedule, but take no action (as
        /// `watchdog.act = false`): report and record what would have been done.
        #[arg(long)]
        dry_run: bool,
    },
    /// One pass of every check, with recovery and alerts as configured.
    ///
    /// Checks everything `run` checks, once. Changes what `run` would change (same rules,
    /// cooldowns and caps), and finishes an interrupted recovery first.
    ///
    /// Exit: 0 all well; 1 something was wrong and was repaired, or a warning; 2 critical
    /// (repair failed or not allowed, bot down, Bot API unreachable, token refused).
    Check {
        /// Print one JSON document: findings, actions, alert decisions, level, exit_code.
        #[arg(long)]
        json: bool,
        /// Check, judge and alert, but take no action (as `watchdog.act = false`): report
        /// and record what would have been done.
        #[arg(long)]
        dry_run: bool,
    },
    /// Before a deploy: is it safe? Changes nothing.
    ///
    /// Checks that the Bot API answers and accepts the token, that fewer than
    /// watchdog.max_pending updates are pending and that the webhook is not erroring.
    ///
    /// Exit: 0 safe to deploy; 1 not safe (pending too high, webhook erroring); 2 Bot API
    /// unreachable or token refused.
    Preflight,
    /// After a deploy: wait until the bot's /webhook/health says is_healthy. Changes nothing.
    ///
    /// Exit: 0 healthy before the timeout; 2 not.
    Verify {
        /// How long to wait, e.g. 120s, 5m (a bare number means seconds).
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Recovery now: deleteWebhook (keeping updates) → getUpdates until empty, each update
    /// replayed to the bot (BOT_URL + /webhook, with the secret, per chat in order) and
    /// confirmed only after it answered 200 → setWebhook again. Reports drained / replayed /
    /// dropped. Ignores cooldowns (it is your decision) but is recorded.
    ///
    /// Exit: 0 done, webhook set again; 2 failed (the webhook is set again regardless, and
    /// nothing unconfirmed is lost; see the report).
    Recover {
        /// Throw the pending updates away instead (setWebhook with drop_pending_updates) and
        /// report how many. Users' messages are lost: only when replaying is impossible.
        #[arg(long)]
        drop_pending: bool,
    },
    /// Stop notifications for an incident (or `all`) for a while. Changes only alerting.
    ///
    /// Silenced incidents are still checked, logged and kept; nothing is sent for them. When
    /// the silence ends and the incident is still open, it notifies once.
    /// Incidents: bot-down, webhook-stuck, webhook-wrong-url, telegram-unreachable,
    /// token-invalid, bot-memory, … (see `watchdog check --json`).
    ///
    /// Exit: 0 silenced; 69 the store is unavailable.
    Silence {
        /// The incident key, or `all`.
        target: String,
        /// How long, e.g. 2h, 30m.
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Duration,
        /// Why (kept with the silence, shown in the log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End a silence early. Exit: 0.
    Unsilence {
        /// The incident key, or `all`.
        target: String,
    },
    /// Acknowledge an open incident: someone has it in hand. Changes only alerting.
    ///
    /// No reminders (alerts.repeat_interval) and no escalation (alerts.escalate_after) for it
    /// until it resolves; the RESOLVED message still goes out. Who and when are kept with the
    /// incident in the store and shown by `watchdog check --json`'s incidents.
    ///
    /// Exit: 0 acknowledged (or already); 1 no such open incident; 64 --bot names no bot
    /// this configuration watches; 69 the store is unavailable.
    Ack {
        /// The incident key, e.g. bot-down, webhook-stuck (see the alert's body); the bot is
        /// chosen with --bot (in every subject).
        incident: String,
        /// Who acknowledges (kept with the incident); default $USER.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Parked updates (their handler failed for a permanent reason; the bot keeps them until a
    /// person acts): run them again, or with --discard throw them away. All of them, or those
    /// named with --update-id. Calls BOT_URL + /admin/parked/replay (or /discard) with
    /// ADMIN_TOKEN and prints how many it touched.
    ///
    /// Exit: 0 done; 2 the bot refused or could not be reached; 78 no ADMIN_TOKEN.
    ReplayParked {
        /// Throw them away instead of running them again.
        #[arg(long)]
        discard: bool,
        /// Only this update (repeatable).
        #[arg(long = "update-id", value_name = "N")]
        update_id: Vec<i64>,
    },
    /// Send a test message through every configured alert channel and print each result.
    ///
    /// Exit: 0 every channel accepted it; 2 at least one failed (or none is configured).
    TestAlert,
    /// Recovery drill: on a healthy bot only, run the lossless recovery on purpose (delete →
    /// drain → replay → set) while probing the bot's /health, then check nothing was dropped,
    /// the webhook is set again and the bot is healthy. The report goes to every alert
    /// channel as a [DRILL] message. Schedule it with watchdog.schedule.drill.
    ///
    /// Exit: 0 passed; 2 failed or not run (bot not healthy, dry run, a recovery running).
    Drill,
    /// The daily digest now: the ops notes' daily checklist answered from the store (pending
    /// updates, success rate, response time, parked updates, open incidents; memory trend;
    /// incidents and actions of the last 24 h; the watchdog's run count). Prints the text and
    /// e-mails it (text and HTML) to the e-mail channels. Schedule it with
    /// watchdog.schedule.digest. Changes nothing.
    ///
    /// Exit: 0 sent (or printed with --no-send); 2 no e-mail channel is configured or one
    /// failed; 69 the store is unavailable.
    Digest {
        /// Print it only; send nothing.
        #[arg(long)]
        no_send: bool,
        /// Print the figures as JSON instead of the text.
        #[arg(long)]
        json: bool,
    },
    /// The weekly report now (`--week`): the ops notes' weekly checklist answered from the
    /// store — the week's incidents and how long they lasted, the most frequent errors of the
    /// bot's failed updates and of the watchdog's findings (grouped), each figure against its
    /// threshold with a note where one is never or always crossed, the last drill and its
    /// age, and a backup of the configuration (secrets named by their variables, never
    /// written). Prints it and e-mails it to the e-mail channels. Schedule it with
    /// watchdog.schedule.weekly. Changes nothing.
    ///
    /// Exit: 0 sent (or printed with --no-send); 2 no e-mail channel is configured or one
    /// failed; 64 without --week; 69 the store is unavailable.
    Report {
        /// The week's report (the only one there is).
        #[arg(long)]
        week: bool,
        /// Print it only; send nothing.
        #[arg(long)]
        no_send: bool,
        /// Print the figures as JSON instead of the text.
        #[arg(long)]
        json: bool,
    },
    /// The configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// SQLite stores: online backups (`VACUUM INTO` store.backup_dir, keeping
    /// store.backup_keep) and their check. PostgreSQL: the provider's backups (README).
    #[command(subcommand)]
    Backup(BackupCommand),
}

/// `watchdog config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration as TOML (defaults, file, TELBOT__… and the
    /// well-known variables, resolved), for a backup: every secret is left out and named at
    /// the top by the variable that holds it, so the file can be kept anywhere and loaded
    /// again with --config once those variables are set. Changes nothing.
    ///
    /// Exit: 0 printed; 78 the configuration does not load.
    Export,
}

/// `watchdog backup …`.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write a backup now (both daemons keep running) and remove the oldest past
    /// store.backup_keep.
    ///
    /// Exit: 0 written; 2 failed; 69 the store is unavailable; 78 the store is not SQLite.
    Now,
    /// Open the newest backup read-only and check it: PRAGMA integrity_check, the inbox
    /// table readable, its age against store.backup_max_age. Changes nothing.
    ///
    /// Exit: 0 sound and recent; 1 sound but older than store.backup_max_age; 2 no backup,
    /// or it is corrupt, truncated or unreadable.
    Verify {
        /// This file instead of the newest one in store.backup_dir.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `120`, `120s`, `5m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (e.g. 120s, 5m)"))
}

pub use run::execute;
