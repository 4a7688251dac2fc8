//! A watchdog that cannot see acts on nothing: with its own network cut (its Bot API calls and
//! its `/health` calls hang) while the bot is fine, it restarts nothing and pages nothing; with
//! the bot really down and Telegram reachable, it restarts as before.

use crate::common;

use std::time::Duration;

use common::World;
use telegram_sim::Upd;
use watchdog::RunSet;
use watchdog::incident;
use watchdog::{ActionKind, Level};

/// A listener that accepts connections and never answers (a cut network seen from inside: the
/// SYN is answered by a middlebox, nothing else ever comes back). Stops with the test.
async fn black_hole() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

fn liveness() -> RunSet {
    RunSet {
        liveness: true,
        performance: true,
        ..RunSet::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchdog_cut_off_restarts_nothing_and_pages_nothing() {
    let mut w = World::start().await;
    let hole = black_hole().await;
    // The watchdog reaches Telegram and the bot through the hole; the bot and the sim talk
    // directly, so Telegram delivers to the bot all along.
    w.env.insert("TELEGRAM_API_URL".into(), hole.clone());
    w.env.insert("BOT_URL".into(), hole.clone());
    w.env
        .insert("TELBOT__TELEGRAM__REQUEST_TIMEOUT".into(), "300ms".into());
    w.env
        .insert("TELBOT__TELEGRAM__MAX_ATTEMPTS".into(), "1".into());
    w.env
        .insert("TELBOT__WATCHDOG__HTTP_TIMEOUT".into(), "300ms".into());
    w.env
        .insert("TELBOT__WATCHDOG__CHECK_TIMEOUT".into(), "2s".into());
    let wd = w.watchdog().await;
    for i in 0..4 {
        w.sim.inject(Upd::text(9, format!("still here {i}")));
        let out = wd.run_once(liveness()).await;
        let r = &out.report;
        assert!(r.actions.is_empty(), "run {i}: {:#?}", r.actions);
        assert_ne!(r.level(), Level::Critical, "run {i}: {:#?}", r.findings);
        let f = r.finding(incident::WATCHDOG_BLIND).unwrap();
        assert_eq!(f.level, Level::Warning, "{f:?}");
        assert!(
            f.reason.contains("neither the Bot API nor the bot"),
            "{}",
            f.reason
        );
        assert!(r.finding(incident::BOT_DOWN).is_none(), "{:#?}", r.findings);
        assert!(r.finding(incident::TELEGRAM_UNREACHABLE).is_none());
        w.clock.advance(30);
    }
    assert_eq!(w.platform.count(), 0, "a healthy bot was restarted");
    // Telegram delivered to the bot meanwhile.
    w.wait("the four messages answered", |s| {
        s.sent_messages().len() == 4
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_really_down_with_telegram_reachable_is_restarted() {
    let mut w = World::start().await;
    // Nothing listens at the bot's URL: connections are refused, Telegram answers.
    let port = telbot_testkit::free_port().unwrap();
    w.env
        .insert("BOT_URL".into(), format!("http://127.0.0.1:{port}"));
    let wd = w.watchdog().await;
    let out = wd.run_once(liveness()).await;
    let r = &out.report;
    assert_eq!(
        r.finding(incident::BOT_DOWN).unwrap().level,
        Level::Critical
    );
    assert_eq!(
        r.finding(incident::WATCHDOG_BLIND).unwrap().level,
        Level::Ok
    );
    assert_eq!(
        r.actions.iter().map(|a| a.kind).collect::<Vec<_>>(),
        [ActionKind::Restart]
    );
    assert_eq!(w.platform.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_url_that_answers_makes_the_watchdog_believe_what_it_sees() {
    let mut w = World::start().await;
    let hole = black_hole().await;
    w.env.insert("TELEGRAM_API_URL".into(), hole.clone());
    w.env
        .insert("TELBOT__TELEGRAM__REQUEST_TIMEOUT".into(), "300ms".into());
    w.env
        .insert("TELBOT__TELEGRAM__MAX_ATTEMPTS".into(), "1".into());
    w.env
        .insert("TELBOT__WATCHDOG__HTTP_TIMEOUT".into(), "300ms".into());
    let port = telbot_testkit::free_port().unwrap();
    w.env
        .insert("BOT_URL".into(), format!("http://127.0.0.1:{port}"));
    // Without a reference, both silent: blind, nothing done.
    let wd = w.watchdog().await;
    let out = wd.run_once(liveness()).await;
    assert_eq!(
        out.report.finding(incident::WATCHDOG_BLIND).unwrap().level,
        Level::Warning
    );
    assert!(out.report.actions.is_empty());
    wd.step_down().await;
    // The reference (the platform stand-in answers any path, 404 included) answers: the
    // watchdog's network works, so both sides are really down: restart.
    w.env.insert(
        "TELBOT__WATCHDOG__REFERENCE_URL".into(),
        format!("{}/generate_204", w.platform.url),
    );
    let wd = w.watchdog().await;
    let out = wd.run_once(liveness()).await;
    assert_eq!(
        out.report.finding(incident::WATCHDOG_BLIND).unwrap().level,
        Level::Ok
    );
    assert_eq!(
        out.report.finding(incident::BOT_DOWN).unwrap().level,
        Level::Critical
    );
    assert_eq!(w.platform.count(), 1, "{:#?}", out.report.actions);
    // A reference that does not answer either: one silent side is enough to be blind.
    w.env
        .insert("TELBOT__WATCHDOG__REFERENCE_URL".into(), hole.clone());
    w.env.remove("BOT_URL");
    let wd = w.watchdog().await;
    let out = wd.run_once(liveness()).await;
    assert_eq!(
        out.report.finding(incident::WATCHDOG_BLIND).unwrap().level,
        Level::Warning,
        "{:#?}",
        out.report.findings
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_bot_api_is_one_finding_not_a_check_timeout_beside_it() {
    let mut w = World::start().await;
    let hole = black_hole().await;
    // Only the Bot API hangs; the bot answers. The bot's own checks still finish in time, so
    // the run pages for one cause (telegram-unreachable), not also "the performance checks
    // did not finish".
    w.env.insert("TELEGRAM_API_URL".into(), hole);
    w.env
        .insert("TELBOT__TELEGRAM__REQUEST_TIMEOUT".into(), "10s".into());
    w.env
        .insert("TELBOT__WATCHDOG__CHECK_TIMEOUT".into(), "1s".into());
    let wd = w.watchdog().await;
    let out = wd.run_once(RunSet::all()).await;
    let r = &out.report;
    assert_eq!(
        r.finding(incident::TELEGRAM_UNREACHABLE).unwrap().level,
        Level::Critical,
        "{:#?}",
        r.findings
    );
    let late = r.finding(incident::CHECK_TIMEOUT).unwrap();
    assert_eq!(late.level, Level::Ok, "{late:?}");
    assert_eq!(r.finding(incident::BOT_SLOW).unwrap().level, Level::Ok);
    assert!(r.actions.is_empty(), "{:#?}", r.actions);
}
