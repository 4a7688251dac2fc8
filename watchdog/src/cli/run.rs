//! From a parsed command line to the library: the configuration (one bot, or a `[[bots]]`
//! fleet, see [`crate::fleet`]), one [`Watchdog`] and alert pipeline per bot, and the command
//! run on each selected bot. `run` and `check` take every bot concurrently (a hung bot delays
//! no other: each run has its own `watchdog.check_timeout`); the other commands go bot by bot.

use std::sync::Arc;
use std::time::Duration;

use telbot_alerts::AlertsConfig;
use telbot_shared::config::{self as shared, EnvMap};

use super::{Cli, Command, EXIT_CONFIG, EXIT_UNAVAILABLE, EXIT_USAGE, alerts};
use crate::alerting::PipelineSink;
use crate::clock::SystemClock;
use crate::config::WatchdogConfig;
use crate::fleet;
use crate::report::Level;
use crate::watchdog::{RunOutcome, Watchdog};

/// One watched bot, ready to run.
struct Member {
    name: String,
    wd: Watchdog,
    sink: Arc<PipelineSink>,
}

/// One bot's validated configuration: its name, watchdog and alerts settings.
type Plan = (String, WatchdogConfig, AlertsConfig);

/// Every bot's validated configuration, and whether it is a fleet.
fn plans(cli: &Cli, env: &EnvMap) -> Result<(Vec<Plan>, bool), String> {
    let raw = shared::load(cli.config.as_deref(), env).map_err(|e| e.to_string())?;
    let entries = fleet::entries(&raw).map_err(|e| e.to_string())?;
    if entries.is_empty() {
        let wd = WatchdogConfig::from_config(&raw).map_err(|e| e.to_string())?;
        let al = AlertsConfig::load(&raw, env).map_err(|e| e.to_string())?;
        return Ok((vec![(al.bot_name.clone(), wd, al)], false));
    }
    let mut out = Vec::new();
    for e in &entries {
        let c = fleet::bot_config(&raw, e, env).map_err(|e| e.to_string())?;
        let prefix = |m: String| {
            m.lines()
                .map(|l| format!("bots[{}]: {l}", e.name.trim()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let wd = WatchdogConfig::from_config(&c).map_err(|x| prefix(x.to_string()))?;
        let al = AlertsConfig::load(&c, env).map_err(|x| prefix(x.to_string()))?;
        out.push((e.name.trim().to_string(), wd, al));
    }
    let ids: Vec<(String, String)> = out
        .iter()
        .map(|(n, w, _)| {
            use secrecy::ExposeSecret;
            (n.clone(), w.store.url.expose_secret().to_string())
        })
        .collect();
    fleet::check_distinct(&ids).map_err(|e| e.to_string())?;
    Ok((out, true))
}

/// Runs a parsed command; returns the process exit code.
pub async fn execute(cli: Cli, env: EnvMap) -> u8 {
    let (mut plans, is_fleet) = match plans(&cli, &env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    if let Some(b) = cli.bot.as_deref().map(str::trim) {
        let names: Vec<String> = plans.iter().map(|p| p.0.clone()).collect();
        plans.retain(|p| p.0 == b);
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
    for (_, wd, _) in plans.iter_mut() {
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
        let Some(token) = env.get("ADMIN_TOKEN").filter(|t| !t.is_empty()) else {
            eprintln!("config: ADMIN_TOKEN is not set; replay-parked needs the bot's admin token");
            return EXIT_CONFIG;
        };
        let verb = if *discard {
            crate::parked::Verb::Discard
        } else {
            crate::parked::Verb::Replay
        };
        let mut code = 0;
        for (name, wd, _) in &plans {
            header(name);
            let c = crate::parked::command(
                wd.bot_url.as_str(),
                token,
                verb,
                update_id,
                wd.http_timeout,
            )
            .await;
            code = code.max(c);
        }
        return code;
    }
    let metrics_listen = match metrics_listen(&cli, &env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG;
        }
    };
    let mut members = Vec::new();
    for (name, cfg, alerts_cfg) in plans {
        match build(cfg, alerts_cfg, &env).await {
            Ok((wd, sink)) => members.push(Member { name, wd, sink }),
            Err(code) => return code,
        }
    }
    match &cli.command {
        Command::Run { .. } => run(&members, metrics_listen).await,
        Command::Check { json, .. } => {
            let outs = futures::future::join_all(members.iter().map(|m| async {
                let out = m.wd.check().await;
                m.wd.step_down().await;
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

/// `watchdog.metrics_listen`, parsed.
fn metrics_listen(cli: &Cli, env: &EnvMap) -> Result<Option<std::net::SocketAddr>, String> {
    let raw = shared::load(cli.config.as_deref(), env).map_err(|e| e.to_string())?;
    let s = raw
        .get_string("watchdog.metrics_listen")
        .unwrap_or_default();
    match s.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| {
            format!("config: TELBOT__WATCHDOG__METRICS_LISTEN (watchdog.metrics_listen): not an address like 127.0.0.1:9464: {s:?}")
        }),
    }
}

/// Connects one bot's store and builds its alert pipeline and watchdog.
async fn build(
    cfg: WatchdogConfig,
    alerts_cfg: AlertsConfig,
    env: &EnvMap,
) -> Result<(Watchdog, Arc<PipelineSink>), u8> {
    let mut secrets = vec![cfg.telegram.token.clone()];
    secrets.extend(cfg.webhook.secret.clone());
    if let Some(t) = env.get("ADMIN_TOKEN").filter(|t| !t.is_empty()) {
        secrets.push(secrecy::SecretString::from(t.clone()));
    }
    let db = telbot_shared::store::connect(&cfg.store)
        .await
        .map_err(|e| {
            eprintln!("watchdog: cannot start: {e}");
            EXIT_UNAVAILABLE
        })?;
    let p = telbot_alerts::AlertPipeline::new(alerts_cfg.clone(), db, secrets).map_err(|e| {
        eprintln!("watchdog: alerts: {e}");
        EXIT_CONFIG
    })?;
    let heartbeat = telbot_alerts::Heartbeat::from_config(&alerts_cfg)
        .ok()
        .flatten();
    let sink = Arc::new(PipelineSink::new(p, heartbeat));
    let wd = Watchdog::build_with(cfg, Arc::new(SystemClock), sink.clone())
        .await
        .map_err(|e| {
            eprintln!("watchdog: cannot start: {e}");
            EXIT_UNAVAILABLE
        })?;
    Ok((wd, sink))
}

/// The daemon: every bot's schedules at once until SIGTERM/SIGINT.
async fn run(members: &[Member], metrics_listen: Option<std::net::SocketAddr>) -> u8 {
    let stops: Vec<_> = members.iter().map(|m| m.wd.stop_token()).collect();
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
    let results = futures::future::join_all(members.iter().map(|m| m.wd.run_until_stopped())).await;
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
async fn one(m: &Member, cmd: &Command, env: &EnvMap, is_fleet: bool) -> u8 {
    let (wd, sink) = (&m.wd, &m.sink);
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
        // Handled by the caller.
        Command::Run { .. } | Command::Check { .. } | Command::ReplayParked { .. } => 0,
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
