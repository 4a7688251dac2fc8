//! The command line: what each command checks, changes and exits with (its `--help` is the
//! runbook), and the dispatch from a parsed command to the library.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use telbot_shared::config::EnvMap;

use crate::alerting::PipelineSink;
use crate::clock::SystemClock;
use crate::config::WatchdogConfig;
use crate::report::Level;
use crate::watchdog::{RunOutcome, Watchdog};

mod alerts;

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
    /// Exit: 0 acknowledged (or already); 1 no such open incident; 64 --bot names another
    /// bot; 69 the store is unavailable.
    Ack {
        /// The incident key, e.g. bot-down, webhook-stuck (see the alert's body).
        incident: String,
        /// The bot the incident belongs to (its alerts.bot_name, in every subject); refused
        /// when it is not the bot this configuration watches.
        #[arg(long, value_name = "NAME")]
        bot: Option<String>,
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
}

/// `120`, `120s`, `5m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    humantime::parse_duration(s.trim()).map_err(|e| format!("{e} (e.g. 120s, 5m)"))
}

/// Runs a parsed command; returns the process exit code.
pub async fn execute(cli: Cli, env: EnvMap) -> u8 {
    let mut cfg = match WatchdogConfig::load(cli.config.as_deref(), &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    if matches!(
        cli.command,
        Command::Run { dry_run: true } | Command::Check { dry_run: true, .. }
    ) {
        cfg.act = false;
    }
    if !cfg.act {
        tracing::info!("dry run: checks, rules and alerts run; no action is taken");
    }
    if let Command::ReplayParked { discard, update_id } = &cli.command {
        let Some(token) = env.get("ADMIN_TOKEN").filter(|t| !t.is_empty()) else {
            eprintln!("config: ADMIN_TOKEN is not set; replay-parked needs the bot's admin token");
            return EXIT_CONFIG;
        };
        let verb = if *discard {
            crate::parked::Verb::Discard
        } else {
            crate::parked::Verb::Replay
        };
        return crate::parked::command(
            cfg.bot_url.as_str(),
            token,
            verb,
            update_id,
            cfg.http_timeout,
        )
        .await;
    }
    let raw = telbot_shared::config::load(cli.config.as_deref(), &env);
    let metrics_listen = match raw
        .as_ref()
        .map(|r| r.get_string("watchdog.metrics_listen").unwrap_or_default())
    {
        Ok(s) if s.trim().is_empty() => None,
        Ok(s) => match s.trim().parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                eprintln!(
                    "config: TELBOT__WATCHDOG__METRICS_LISTEN (watchdog.metrics_listen): not an address like 127.0.0.1:9464: {s:?}"
                );
                return EXIT_CONFIG;
            }
        },
        Err(_) => None,
    };
    let alerts_cfg = match raw.and_then(|r| telbot_alerts::AlertsConfig::load(&r, &env)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    let mut secrets = vec![cfg.telegram.token.clone()];
    secrets.extend(cfg.webhook.secret.clone());
    if let Some(t) = env.get("ADMIN_TOKEN").filter(|t| !t.is_empty()) {
        secrets.push(secrecy::SecretString::from(t.clone()));
    }
    let sink = match telbot_shared::store::connect(&cfg.store).await {
        Ok(db) => match telbot_alerts::AlertPipeline::new(alerts_cfg.clone(), db, secrets) {
            Ok(p) => {
                let heartbeat = telbot_alerts::Heartbeat::from_config(&alerts_cfg)
                    .ok()
                    .flatten();
                Arc::new(PipelineSink::new(p, heartbeat))
            }
            Err(e) => {
                eprintln!("watchdog: alerts: {e}");
                return EXIT_CONFIG;
            }
        },
        Err(e) => {
            eprintln!("watchdog: cannot start: {e}");
            return EXIT_UNAVAILABLE;
        }
    };
    let wd = match Watchdog::build_with(cfg, Arc::new(SystemClock), sink.clone()).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("watchdog: cannot start: {e}");
            return EXIT_UNAVAILABLE;
        }
    };
    match cli.command {
        Command::Run { .. } => {
            let stop = wd.stop_token();
            if let Some(addr) = metrics_listen {
                let stop = stop.clone();
                tokio::spawn(async move {
                    if let Err(e) = crate::metrics::serve(addr, stop).await {
                        tracing::error!(%addr, error = %e, "cannot serve watchdog metrics");
                    }
                });
            }
            tokio::spawn(async move {
                telbot_shared::signal::shutdown().await;
                tracing::info!("shutdown signal: finishing the current run");
                stop.cancel();
            });
            match wd.run_until_stopped().await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("watchdog: {e}");
                    2
                }
            }
        }
        Command::Check { json, .. } => {
            let out = wd.check().await;
            wd.step_down().await;
            let level = out.report.level();
            print_outcome(&out, json, level);
            level.exit_code()
        }
        Command::Preflight => {
            let (level, findings) = wd.preflight().await;
            for f in &findings {
                println!("{}: {}", f.level, f.reason);
            }
            level.exit_code()
        }
        Command::Verify { timeout } => {
            let (level, msg) = wd.verify(timeout, Duration::from_secs(2)).await;
            println!("{level}: {msg}");
            level.exit_code()
        }
        Command::Recover { drop_pending } => {
            let out = wd.recover(drop_pending).await;
            let failed = out
                .report
                .actions
                .iter()
                .any(|a| a.result != crate::report::ActionResult::Succeeded);
            print_outcome(&out, false, out.report.level());
            if failed { 2 } else { 0 }
        }
        Command::Silence {
            target,
            duration,
            reason,
        } => alerts::silence(&sink, &target, duration, &reason).await,
        Command::Unsilence { target } => alerts::unsilence(&sink, &target).await,
        Command::Ack { incident, bot, by } => {
            let by = by.or_else(|| env.get("USER").cloned()).unwrap_or_default();
            alerts::ack(&sink, &alerts_cfg.bot_name, &incident, bot.as_deref(), &by).await
        }
        // Handled before the store is opened.
        Command::ReplayParked { .. } => 0,
        Command::Drill => {
            let out = wd.drill().await;
            // Judged by the drill's own finding: the recovery it ran on purpose is no repair.
            let level = out
                .report
                .findings
                .iter()
                .map(|f| f.level)
                .max()
                .unwrap_or(Level::Critical);
            for f in &out.report.findings {
                println!("{}: {}", f.level, f.reason);
            }
            print_outcome(&out, false, level);
            if level == Level::Ok { 0 } else { 2 }
        }
        Command::TestAlert => alerts::test_alert(&sink).await,
        Command::Digest { no_send, json } => alerts::digest(&wd, !no_send, json).await,
    }
}

fn print_outcome(out: &RunOutcome, json: bool, level: Level) {
    if json {
        let mut doc = serde_json::to_value(out).unwrap_or_default();
        doc["level"] = serde_json::json!(level);
        doc["exit_code"] = serde_json::json!(level.exit_code());
        println!("{doc}");
        return;
    }
    for f in out.report.problems() {
        println!("{} [{}] {}", f.level, f.incident, f.reason);
    }
    for a in &out.report.actions {
        println!(
            "action {} ({}): {} {}",
            a.kind.as_str(),
            a.incident,
            a.result.as_str(),
            a.detail
        );
    }
    println!("{level}");
}
