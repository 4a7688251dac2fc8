//! From a parsed command line to the library: the configuration (one bot, or a `[[bots]]`
//! fleet, see [`crate::bots`]), one [`Watchdog`] and alert pipeline per bot, and the command
//! run on each selected bot. `run` and `check` take every bot concurrently (a hung bot delays
//! no other: each run has its own `watchdog.check_timeout`); the other commands go bot by bot.

use std::time::Duration;

use secrecy::ExposeSecret;
use telbot_shared::config::EnvMap;

use super::{Cli, Command, ConfigAction, EXIT_CONFIG, EXIT_UNAVAILABLE, EXIT_USAGE, alerts};
use crate::app::{App, AppError, Plan};
use crate::report::Level;
use crate::watchdog::RunOutcome;

/// Runs a parsed command; returns the process exit code.
pub async fn execute(cli: Cli, env: EnvMap) -> u8 {
    if let Command::Config {
        action: ConfigAction::Export,
    } = &cli.command
    {
        return export(cli.config.as_deref(), &env);
    }
    if let Command::Report { week: false, .. } = &cli.command {
        eprintln!("watchdog report: say which report: --week");
        return EXIT_USAGE;
    }
    let Plan {
        bots: mut plans,
        fleet: is_fleet,
        metrics_listen,
    } = match Plan::load(cli.config.as_deref(), &env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    if let Some(b) = cli.bot.as_deref().map(str::trim) {
        let names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
        plans.retain(|p| p.name == b);
        if plans.is_empty() {
            eprintln!(
                "watchdog: --bot {b:?}: no such bot here (configured: {})",
                names.join(", ")
            );
            return EXIT_USAGE;
        }
    }
    let dry = matches!(
        cli.command,
        Command::Run { dry_run: true } | Command::Check { dry_run: true, .. }
    );
    for wd in plans.iter_mut().map(|p| &mut p.watchdog) {
        wd.act = wd.act && !dry;
        if !wd.act {
            tracing::info!(bot = %wd.bot_name, "dry run: checks, rules and alerts run; no action is taken");
        }
    }
    let header = |name: &str| {
        if is_fleet {
            println!("== {name} ==");
        }
    };
    if let Command::ReplayParked { discard, update_id } = &cli.command {
        let Some(token) = plans.first().and_then(|p| p.admin_token.clone()) else {
            eprintln!("config: ADMIN_TOKEN is not set; replay-parked needs the bot's admin token");
            return EXIT_CONFIG;
        };
        let verb = if *discard {
            crate::parked::Verb::Discard
        } else {
            crate::parked::Verb::Replay
        };
        let mut code = 0;
        for p in &plans {
            header(&p.name);
            let c = crate::parked::command(
                p.watchdog.bot_url.as_str(),
                token.expose_secret(),
                verb,
                update_id,
                p.watchdog.http_timeout,
            )
            .await;
            code = code.max(c);
        }
        return code;
    }
    if let Command::Backup(b) = &cli.command {
        let Some(p) = plans.first() else {
            return EXIT_CONFIG;
        };
        return super::backup::execute(b, &p.watchdog.store).await;
    }
    let mut members = Vec::new();
    for cfg in plans {
        match App::build(cfg).await {
            Ok(app) => members.push(app),
            Err(e @ AppError::Config(_)) => {
                eprintln!("watchdog: {e}");
                return EXIT_CONFIG;
            }
            Err(e @ AppError::Start(_)) => {
                eprintln!("watchdog: {e}");
                return EXIT_UNAVAILABLE;
            }
        }
    }
    match &cli.command {
        Command::Run { .. } => run(&members, metrics_listen).await,
        Command::Check { json, .. } => {
            let outs = futures::future::join_all(members.iter().map(|m| async {
                let out = m.watchdog.check().await;
                m.watchdog.step_down().await;
                out
            }))
            .await;
            let mut code = 0;
            for (m, out) in members.iter().zip(&outs) {
                let level = out.report.level();
                print_outcome(out, *json, level, is_fleet.then_some(m.name.as_str()));
                code = code.max(level.exit_code());
            }
            code
        }
        cmd => {
            let mut code = 0;
            for m in &members {
                header(&m.name);
                code = code.max(one(m, cmd, &env, is_fleet).await);
            }
            code
        }
    }
}

/// The daemon: every bot's schedules at once until SIGTERM/SIGINT.
async fn run(members: &[App], metrics_listen: Option<std::net::SocketAddr>) -> u8 {
    let stops: Vec<_> = members.iter().map(|m| m.watchdog.stop_token()).collect();
    let all = tokio_util::sync::CancellationToken::new();
    if let Some(addr) = metrics_listen {
        let stop = all.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(addr, stop).await {
                tracing::error!(%addr, error = %e, "cannot serve watchdog metrics");
            }
        });
    }
    tokio::spawn(async move {
        telbot_shared::signal::shutdown().await;
        tracing::info!("shutdown signal: finishing the current runs");
        all.cancel();
        for s in stops {
            s.cancel();
        }
    });
    let results =
        futures::future::join_all(members.iter().map(|m| m.watchdog.run_until_stopped())).await;
    let mut code = 0;
    for (m, r) in members.iter().zip(results) {
        if let Err(e) = r {
            eprintln!("watchdog: {}: {e}", m.name);
            code = 2;
        }
    }
    code
}

/// One command on one bot.
async fn one(m: &App, cmd: &Command, env: &EnvMap, is_fleet: bool) -> u8 {
    let (wd, sink) = (&m.watchdog, &m.sink);
    let name = is_fleet.then_some(m.name.as_str());
    match cmd {
        Command::Preflight => {
            let (level, findings) = wd.preflight().await;
            for f in &findings {
                println!("{}: {}", f.level, f.reason);
            }
            level.exit_code()
        }
        Command::Verify { timeout } => {
            let (level, msg) = wd.verify(*timeout, Duration::from_secs(2)).await;
            println!("{level}: {msg}");
            level.exit_code()
        }
        Command::Recover { drop_pending } => {
            let out = wd.recover(*drop_pending).await;
            let failed = out
                .report
                .actions
                .iter()
                .any(|a| a.result != crate::report::ActionResult::Succeeded);
            print_outcome(&out, false, out.report.level(), name);
            if failed { 2 } else { 0 }
        }
        Command::Silence {
            target,
            duration,
            reason,
        } => alerts::silence(sink, target, *duration, reason).await,
        Command::Unsilence { target } => alerts::unsilence(sink, target).await,
        Command::Ack { incident, by } => {
            let by = by
                .clone()
                .or_else(|| env.get("USER").cloned())
                .unwrap_or_default();
            alerts::ack(sink, &m.name, incident, &by).await
        }
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
            print_outcome(&out, false, level, name);
            if level == Level::Ok { 0 } else { 2 }
        }
        Command::TestAlert => alerts::test_alert(sink).await,
        Command::Digest { no_send, json } => alerts::digest(wd, !no_send, *json).await,
        Command::Report { no_send, json, .. } => alerts::weekly(wd, !no_send, *json).await,
        // Handled by the caller.
        Command::Run { .. }
        | Command::Check { .. }
        | Command::ReplayParked { .. }
        | Command::Config { .. }
        | Command::Backup(_) => 0,
    }
}

/// A run's outcome: one JSON document (with `bot` in a fleet), or lines (each `[bot] `-prefixed
/// in a fleet).
fn print_outcome(out: &RunOutcome, json: bool, level: Level, bot: Option<&str>) {
    if json {
        let mut doc = serde_json::to_value(out).unwrap_or_default();
        doc["level"] = serde_json::json!(level);
        doc["exit_code"] = serde_json::json!(level.exit_code());
        if let Some(b) = bot {
            doc["bot"] = serde_json::json!(b);
        }
        println!("{doc}");
        return;
    }
    let p = bot.map(|b| format!("[{b}] ")).unwrap_or_default();
    for f in out.report.problems() {
        println!("{p}{} [{}] {}", f.level, f.incident, f.reason);
    }
    for a in &out.report.actions {
        println!(
            "{p}action {} ({}): {} {}",
            a.kind.as_str(),
            a.incident,
            a.result.as_str(),
            a.detail
        );
    }
    println!("{p}{level}");
}

/// `watchdog config export`: the layered configuration as TOML, no secret in it (a fleet's
/// `[[bots]]` included: their secrets are named like the others).
fn export(file: Option<&std::path::Path>, env: &EnvMap) -> u8 {
    let loaded = telbot_shared::config::load(file, env).and_then(|cfg| {
        telbot_shared::config::export::export(
            &cfg,
            &format!(
                "telbot configuration, exported by watchdog {}",
                telbot_shared::VERSION
            ),
        )
    });
    match loaded {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            EXIT_CONFIG
        }
    }
}
