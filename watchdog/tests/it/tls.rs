//! `tls-certificate` against a real TLS listener (tokio-rustls on 127.0.0.1) presenting
//! certificates made by a test CA: PUBLIC_URL is `https://bot.test`, the handshake goes to the
//! listener (`watchdog.tls.connect`) with SNI `bot.test`, and the CA is trusted through
//! `watchdog.tls.ca_file` — or a self-signed certificate through `webhook.certificate`, as
//! Telegram trusts it.

use std::sync::Arc;

use telbot_testkit::tls::{DAY, Leaf, TestCa, TlsServer, self_signed};
use watchdog::ManualClock;
use watchdog::{Finding, Level, incident};
use watchdog::{RunKind, RunSet};

use crate::common;
use crate::fake_bot::FakeWorld;

struct Tls {
    world: FakeWorld,
    server: TlsServer,
    dir: tempfile::TempDir,
}

/// A fake world whose PUBLIC_URL is https://bot.test, its certificate served by `leaf`.
async fn world(leaf: &Leaf, ca: Option<&TestCa>) -> Tls {
    let mut world = FakeWorld::start().await;
    let server = TlsServer::start(leaf).await;
    let dir = tempfile::tempdir().unwrap();
    let e = &mut world.env;
    e.insert("BOT_URL".into(), world.bot.url.clone());
    e.insert("PUBLIC_URL".into(), "https://bot.test".into());
    e.insert("TELBOT__WATCHDOG__ACT".into(), "false".into());
    e.insert(
        "TELBOT__WATCHDOG__TLS__CONNECT".into(),
        server.addr.to_string(),
    );
    if let Some(ca) = ca {
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, &ca.pem).unwrap();
        e.insert(
            "TELBOT__WATCHDOG__TLS__CA_FILE".into(),
            path.display().to_string(),
        );
    }
    Tls { world, server, dir }
}

async fn judged(t: &Tls, clock: &ManualClock) -> Finding {
    let wd = common::watchdog(&t.world.env, Arc::new(clock.clone())).await;
    watchdog::tls::check(wd.ctx(), true)
        .await
        .expect("an https PUBLIC_URL is checked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_read_through_a_handshake_is_judged_by_expiry_and_host() {
    let now = telbot_shared::unix_now();
    let ca = TestCa::new(now);
    let cases = [
        (
            &["bot.test"][..],
            30 * DAY,
            Level::Ok,
            "trusted and issued for it".to_string(),
        ),
        (
            &["bot.test"],
            10 * DAY,
            Level::Warning,
            "expires in 9 days".to_string(),
        ),
        (
            &["bot.test"],
            2 * DAY,
            Level::Critical,
            "expires in 1 day,".to_string(),
        ),
        (
            &["bot.test"],
            -DAY,
            Level::Critical,
            format!("expired on {}", watchdog::tls::der::date(now - DAY)),
        ),
        (
            &["other.test"],
            30 * DAY,
            Level::Critical,
            "issued for other.test, not bot.test".to_string(),
        ),
    ];
    for (names, left, level, says) in cases {
        // A moment ago, as a certificate issued a while back would read.
        let leaf = ca.issue(names, now - 60 * DAY, now + left - 60);
        let t = world(&leaf, Some(&ca)).await;
        let f = judged(&t, &ManualClock::at(now)).await;
        assert_eq!(f.incident, incident::TLS_CERTIFICATE);
        assert_eq!(f.level, level, "{names:?} {left}: {}", f.reason);
        assert!(f.reason.contains(&says), "{names:?} {left}: {}", f.reason);
        assert_eq!(t.server.handshakes(), 1, "read through the listener");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_trusted_only_as_the_uploaded_webhook_certificate() {
    let now = telbot_shared::unix_now();
    let own = self_signed(&["bot.test"], now - DAY, now + 90 * DAY);
    let mut t = world(&own, None).await;
    let clock = ManualClock::at(now);
    let f = judged(&t, &clock).await;
    assert_eq!(f.level, Level::Critical, "{}", f.reason);
    assert!(
        f.reason
            .contains("self-signed and webhook.certificate is not set"),
        "{}",
        f.reason
    );
    let pem = t.dir.path().join("webhook.pem");
    std::fs::write(&pem, &own.pem).unwrap();
    t.world.env.insert(
        "TELBOT__WEBHOOK__CERTIFICATE".into(),
        pem.display().to_string(),
    );
    // A new configuration, the same hour: the kept reading was judged with the old trust, so
    // drop it as an operator would by waiting out `every`.
    clock.advance(3600);
    let f = judged(&t, &clock).await;
    assert_eq!(f.level, Level::Ok, "{}", f.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_read_the_certificate_once_an_hour_and_judge_it_every_time() {
    let now = telbot_shared::unix_now();
    let ca = TestCa::new(now);
    let leaf = ca.issue(&["bot.test"], now - DAY, now + 16 * DAY);
    let t = world(&leaf, Some(&ca)).await;
    let clock = ManualClock::at(now);
    let wd = common::watchdog(&t.world.env, Arc::new(clock.clone())).await;
    let mut perf = RunSet::default();
    perf.add(RunKind::Performance);
    let level = |out: &watchdog::RunOutcome| {
        out.report
            .finding(incident::TLS_CERTIFICATE)
            .map(|f| (f.level, f.reason.clone()))
    };
    let out = wd.run_once(perf).await;
    assert_eq!(
        level(&out).map(|l| l.0),
        Some(Level::Ok),
        "{:?}",
        level(&out)
    );
    // The liveness runs (every 30 s) leave it alone.
    let mut live = RunSet::default();
    live.add(RunKind::Liveness);
    assert_eq!(level(&wd.run_once(live).await), None);
    // Five minutes later: judged again from the kept reading, no new handshake.
    clock.advance(300);
    assert_eq!(
        level(&wd.run_once(perf).await).map(|l| l.0),
        Some(Level::Ok)
    );
    assert_eq!(t.server.handshakes(), 1);
    // Three days on the certificate is inside the 14-day warning: read again, warned.
    clock.advance(3 * DAY);
    let out = wd.run_once(perf).await;
    let (lvl, reason) = level(&out).unwrap();
    assert_eq!(lvl, Level::Warning, "{reason}");
    assert!(reason.contains("expires in 12 days"), "{reason}");
    assert_eq!(t.server.handshakes(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_public_url_gets_no_certificate_finding() {
    let w = FakeWorld::start().await;
    let wd = common::watchdog(&w.env, Arc::new(ManualClock::at(telbot_shared::unix_now()))).await;
    let out = wd.check().await;
    assert!(out.report.finding(incident::WEBHOOK_WRONG_URL).is_some());
    assert!(
        out.report.finding(incident::TLS_CERTIFICATE).is_none(),
        "{:#?}",
        out.report.findings
    );
}
