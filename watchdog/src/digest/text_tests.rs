#![allow(clippy::unwrap_used)]
use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::digest::ActionLine;
use crate::report::{Finding, RunReport, incident};

const T: i64 = 1_700_000_000;

fn run(at: i64, findings: Vec<Finding>) -> RunReport {
    RunReport {
        run: "integration".into(),
        started_at: at,
        finished_at: at,
        findings,
        actions: vec![],
    }
}

fn healthy(at: i64, pending: u64, ms: u64, pct: f64, rss: u64) -> RunReport {
    run(
        at,
        vec![
            Finding::ok("telegram", incident::WEBHOOK_STUCK, "ok")
                .with_evidence(json!({ "pending_update_count": pending })),
            Finding::ok("bot", incident::BOT_DOWN, "up").with_evidence(json!({ "latency_ms": ms })),
            Finding::ok("bot", incident::BOT_SUCCESS_RATE, "ok")
                .with_evidence(json!({ "percent": pct, "processed": 10, "failed": 0 })),
            Finding::ok("bot", incident::BOT_PARKED, "none"),
            Finding::ok("bot", incident::BOT_MEMORY, "ok")
                .with_evidence(json!({ "rss_bytes": rss, "limit_bytes": 500u64 << 20 })),
        ],
    )
}

fn digest() -> Digest {
    Digest {
        bot: "shopbot".into(),
        from: T - super::super::PERIOD_SECS,
        to: T,
        success_target: 95.0,
        response_target_ms: 5000,
        ..Digest::default()
    }
}

#[test]
fn a_quiet_day_meets_every_target() {
    let mut d = digest();
    for i in 0..3 {
        d.add_run(&healthy(
            T - 3000 + i * 30,
            0,
            120 + i as u64,
            100.0,
            (30 + i as u64) << 20,
        ));
    }
    let m = render(&d, &Redactor::default());
    assert_eq!(m.subject, "[DIGEST] shopbot: daily check, all targets met");
    for line in [
        "[ok  ] Pending updates at Telegram: 0 now (highest 0) (target 0)",
        "[ok  ] Handler success rate: 100.0 % in the latest window (lowest 100.0 %) (target > 95 %)",
        "[ok  ] /health response time: 122 ms now (highest 122 ms) (target < 5 s)",
        "[ok  ] Parked updates: 0 now (highest 0) (target 0)",
        "[ok  ] Open incidents (dashboard alerts): none (target none)",
        "Memory (RSS): 32.0 MiB now, 30.0 MiB at the start of the period (+2.0 MiB), highest 32.0 MiB; restart limit 500.0 MiB",
        "The watchdog's runs in the last 24 h: 3 (3 ok, 0 warning, 0 critical)",
    ] {
        assert!(m.text.contains(line), "{line:?} missing in\n{}", m.text);
    }
    assert_eq!(m.level, AlertLevel::Ok);
}

#[test]
fn a_bad_day_says_what_needs_a_look_and_keeps_secrets_out() {
    let mut d = digest();
    d.add_run(&healthy(T - 7200, 0, 100, 99.0, 30 << 20));
    let mut bad = healthy(T - 3600, 12, 6200, 80.5, 31 << 20);
    bad.findings[0] = Finding::new(
        "telegram",
        incident::WEBHOOK_STUCK,
        Level::Critical,
        "stuck",
    )
    .with_evidence(json!({ "pending_update_count": 12 }));
    d.add_run(&bad);
    d.incidents[0].open = true;
    d.incidents[0].acked_by = Some("alice".into());
    d.actions.push(ActionLine {
        at: T - 3590,
        kind: "lossless-recovery".into(),
        result: "succeeded".into(),
        detail: "drained 12, replayed 12, dropped 0; error: token 123:SECRET <b>".into(),
    });
    let red = Redactor::new([SecretString::from("123:SECRET".to_string())]);
    let m = render(&d, &red);
    assert_eq!(
        m.subject,
        "[DIGEST] shopbot: daily check, 4 item(s) need a look"
    );
    for line in [
        "[LOOK] Pending updates at Telegram: 12 now (highest 12)",
        "[LOOK] Handler success rate: 80.5 % in the latest window (lowest 80.5 %)",
        "[LOOK] /health response time: 6200 ms now (highest 6200 ms)",
        "[LOOK] Open incidents (dashboard alerts): webhook-stuck (critical, acknowledged by alice)",
        "webhook-stuck: critical, 1 failing run(s)",
        "lossless-recovery succeeded: drained 12, replayed 12, dropped 0",
        "2 (1 ok, 0 warning, 1 critical)",
    ] {
        assert!(m.text.contains(line), "{line:?} missing in\n{}", m.text);
    }
    assert_eq!(m.level, AlertLevel::Critical);
    for part in [&m.subject, &m.text, &m.html] {
        assert!(!part.contains("SECRET"), "{part}");
    }
    assert!(m.html.contains("token [REDACTED] &lt;b&gt;"), "{}", m.html);
}

#[test]
fn no_figures_is_not_a_pass() {
    let d = digest();
    let rows = checklist(&d);
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![
            Mark::Unknown,
            Mark::Unknown,
            Mark::Unknown,
            Mark::Unknown,
            Mark::Unknown,
            Mark::Unknown,
            Mark::Unknown,
            Mark::Ok
        ]
    );
    let m = render(&d, &Redactor::default());
    assert!(m.text.contains("no figures in the last 24 h"), "{}", m.text);
}

#[test]
fn the_users_figures_and_telegrams_deliveries_are_checklist_rows() {
    let mut d = digest();
    d.user_p95_target_ms = 5000;
    d.handled_target = 95.0;
    d.error_window_s = 600;
    let felt = |at: i64, p95: u64, handled: f64, error_age: Option<i64>| {
        run(
            at,
            vec![
                Finding::ok("telegram", incident::WEBHOOK_STUCK, "ok").with_evidence(
                    json!({ "pending_update_count": 0, "last_error_age_s": error_age }),
                ),
                Finding::ok("bot", incident::BOT_RESPONSE_TIME, "ok")
                    .with_evidence(json!({ "p95_ms": p95 })),
                Finding::ok("bot", incident::BOT_HANDLED, "ok")
                    .with_evidence(json!({ "handled_percent": handled })),
            ],
        )
    };
    d.add_run(&felt(T - 3000, 900, 100.0, None));
    d.add_run(&felt(T - 2000, 7200, 91.0, Some(30)));
    d.add_run(&felt(T - 1000, 800, 99.0, Some(3000)));
    let m = render(&d, &Redactor::default());
    for line in [
        "[LOOK] Users answered within (p95, update stored → handled): 800 ms in the latest hour (highest 7200 ms) (target < 5 s)",
        "[LOOK] Updates handled, not parked: 99.0 % in the latest hour (lowest 91.0 %) (target > 95 %)",
        "[LOOK] Telegram's deliveries to the webhook: 66.7 % of 3 checks saw no recent delivery error (target no errors)",
    ] {
        assert!(m.text.contains(line), "{line:?} missing in\n{}", m.text);
    }
}
