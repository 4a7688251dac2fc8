//! Time-to-detect and time-to-recover per fault class, with compressed schedules, and the
//! watchdog binary's RSS. Not a timed test: it prints figures (run it with
//! `cargo bench -p watchdog --bench detect`).
//!
//! Detect = fault injected → the first run report showing the incident as not ok.
//! Recover = fault injected → the first later report showing it ok again (or repaired).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{HealthMode, World};
use telegram_sim::{Upd, WebhookFault};
use tokio::sync::mpsc;
use watchdog::{AlertDecision, Incident, Level, RunReport, Watchdog};
use watchdog::{AlertSink, BoxFuture, Trigger, WatchdogConfig, incident};

/// An alert sink that hands every report to the benchmark.
struct Tap(mpsc::UnboundedSender<(Instant, RunReport)>);

impl AlertSink for Tap {
    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        let _ = self.0.send((Instant::now(), run.clone()));
        Box::pin(async { Vec::new() })
    }
}

const LIVENESS: Duration = Duration::from_millis(250);

async fn daemon(w: &World) -> (Arc<Watchdog>, mpsc::UnboundedReceiver<(Instant, RunReport)>) {
    let mut cfg = WatchdogConfig::load(None, &w.env).unwrap();
    cfg.schedules.liveness = Trigger::Every(LIVENESS);
    cfg.schedules.performance = Trigger::Every(Duration::from_secs(1));
    cfg.schedules.integration = Trigger::Every(Duration::from_secs(3));
    let (tx, rx) = mpsc::unbounded_channel();
    let wd = Arc::new(
        Watchdog::build_with(cfg, Arc::new(w.clock.clone()), Arc::new(Tap(tx)))
            .await
            .unwrap(),
    );
    let d = wd.clone();
    tokio::spawn(async move { d.run_until_stopped().await });
    (wd, rx)
}

/// Waits for the report where `pred` holds; returns its time.
async fn until(
    rx: &mut mpsc::UnboundedReceiver<(Instant, RunReport)>,
    pred: impl Fn(&RunReport) -> bool,
) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some((at, r))) if pred(&r) => return at,
            Ok(Some(_)) => {}
            _ => panic!("no such report within 30 s"),
        }
    }
}

fn bad(r: &RunReport, key: Incident) -> bool {
    r.finding(key).is_some_and(|f| f.level > Level::Ok)
}

fn fixed(r: &RunReport, key: Incident) -> bool {
    r.finding(key)
        .is_some_and(|f| f.level == Level::Ok || f.repaired)
}

async fn trial(class: &str) -> (Duration, Duration) {
    let w = World::start().await;
    let (wd, mut rx) = daemon(&w).await;
    until(&mut rx, |r| r.level() == Level::Ok).await;
    let t0 = Instant::now();
    let key = match class {
        "wrong-url" => {
            w.sim
                .set_webhook_url_behind_back("http://127.0.0.1:9/elsewhere");
            incident::WEBHOOK_WRONG_URL
        }
        "stuck-50-behind-500" => {
            w.sim.break_webhook(WebhookFault::Status(500));
            for i in 0..50 {
                w.sim.inject(Upd::text(100 + i % 5, format!("{i}")));
            }
            incident::WEBHOOK_STUCK
        }
        _ => {
            w.bot.set_health(HealthMode::Down);
            // The "platform" brings the bot back 500 ms after a restart request.
            let (platform, bot) = (w.platform.clone(), w.bot.state.clone());
            tokio::spawn(async move {
                while platform.count() == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                bot.lock().unwrap().health = HealthMode::Ok;
            });
            incident::BOT_DOWN
        }
    };
    let detected = until(&mut rx, |r| bad(r, key)).await;
    let recovered = if bad_and_fixed_same_run(class) {
        detected
    } else {
        until(&mut rx, |r| fixed(r, key)).await
    };
    let recovered = recovered.max(detected);
    if class == "stuck-50-behind-500" {
        assert!(
            w.sim
                .wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 50)
                .await
        );
        assert!(w.sim.dropped_updates().is_empty());
    }
    wd.stop_token().cancel();
    (detected - t0, recovered - t0)
}

/// Repairs of the webhook happen in the run that detects them (the finding is `repaired`).
fn bad_and_fixed_same_run(class: &str) -> bool {
    class != "bot-down"
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn rss() -> (u64, u64) {
    let w = World::start().await;
    let mut e = w.env.clone();
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__LIVENESS".into(),
        "* * * * * *".into(),
    );
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__PERFORMANCE".into(),
        "*/2 * * * * *".into(),
    );
    e.insert(
        "TELBOT__WATCHDOG__SCHEDULE__INTEGRATION".into(),
        "*/3 * * * * *".into(),
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("run")
        .env_clear()
        .envs(&e)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (now, peak) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    let _ = child.kill().await;
    (now, peak)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "watchdog detect/recover benchmark: liveness every {LIVENESS:?}, bot.interval 20 ms, sim time_scale 0.01"
    );
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>12}",
        "fault", "detect min", "detect max", "recover min", "recover max"
    );
    for class in ["wrong-url", "stuck-50-behind-500", "bot-down"] {
        let mut d = Vec::new();
        let mut r = Vec::new();
        for _ in 0..3 {
            let (a, b) = trial(class).await;
            d.push(a);
            r.push(b);
        }
        let (dmin, dmax) = (
            d.iter().min().copied().unwrap_or_default(),
            d.iter().max().copied().unwrap_or_default(),
        );
        let (rmin, rmax) = (
            r.iter().min().copied().unwrap_or_default(),
            r.iter().max().copied().unwrap_or_default(),
        );
        println!(
            "{class:<22} {:>12} {:>12} {:>12} {:>12}",
            ms(dmin),
            ms(dmax),
            ms(rmin),
            ms(rmax)
        );
    }
    println!("(bot-down recovery includes a simulated 500 ms platform restart)");
    let (now, peak) = rss().await;
    println!(
        "watchdog binary (`watchdog run`, 1 s cron, 8 s): RSS {} KiB, peak {} KiB",
        now, peak
    );
}
