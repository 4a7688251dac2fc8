//! The Telegram check's judgement, table-tested.
use std::time::Duration;

use super::*;
use crate::report::Incident;

fn want() -> WebhookTarget {
    WebhookTarget {
        expected_url: "https://bot.example/webhook".into(),
        replay_url: "https://bot.example/webhook".into(),
        secret: None,
        certificate: None,
        ip_address: None,
        max_connections: 40,
        allowed_updates: vec!["message".into()],
        backups: Vec::new(),
        failback_after: Duration::from_secs(300),
    }
}

fn t() -> Thresholds {
    Thresholds {
        max_pending: 5,
        error_window: Duration::from_secs(600),
        response_time_warn: Duration::from_secs(5),
        success_rate_warn: 95.0,
        success_window: Duration::from_secs(900),
        rss_limit_bytes: 500 << 20,
        conflict_quiet: Duration::from_secs(600),
        response_p95_warn: Duration::from_secs(5),
        handled_warn_percent: 95.0,
        rss_warn_percent: 80.0,
    }
}

fn info(pending: u64, err_at: Option<i64>) -> WebhookInfo {
    WebhookInfo {
        url: "https://bot.example/webhook".into(),
        pending_update_count: pending,
        last_error_date: err_at,
        last_error_message: err_at
            .map(|_| "Wrong response from the webhook: 500 Internal Server Error".into()),
        max_connections: Some(40),
        allowed_updates: Some(vec!["message".into()]),
        ..Default::default()
    }
}

fn level(fs: &[Finding], key: Incident) -> Level {
    fs.iter()
        .find(|f| f.incident == key)
        .map(|f| f.level)
        .unwrap_or(Level::Ok)
}

#[test]
fn table_of_webhook_states() {
    let now = 1_000_000;
    let prev_high = WebhookObservation {
        at: now - 30,
        pending: 9,
        last_error_date: None,
        new_error: false,
    };
    let prev_same_err = WebhookObservation {
        last_error_date: Some(now - 40),
        ..prev_high.clone()
    };
    let prev_err = WebhookObservation {
        at: now - 30,
        pending: 2,
        last_error_date: Some(now - 40),
        new_error: true,
    };
    // (info, prev, expected stuck level)
    let cases: Vec<(WebhookInfo, Option<&WebhookObservation>, Level)> = vec![
        (info(0, None), None, Level::Ok),
        // A stale error next to an empty queue: ok (errors persist after successes).
        (info(0, Some(now - 3600)), None, Level::Ok),
        // A stale error and a few pending: ok.
        (info(3, Some(now - 3600)), None, Level::Ok),
        // Many pending and a recent error: stuck.
        (info(50, Some(now - 10)), None, Level::Critical),
        // Many pending, old error, first look: a warning only.
        (info(9, Some(now - 3600)), None, Level::Warning),
        // Many pending and not going down, but no delivery error: busy, not stuck.
        (info(9, None), Some(&prev_high), Level::Warning),
        // Not going down with a recent error (the same one as last time): stuck.
        (
            info(9, Some(now - 40)),
            Some(&prev_same_err),
            Level::Critical,
        ),
        // Going down with an error seen before: deliveries are flowing again.
        (
            info(7, Some(now - 40)),
            Some(&prev_same_err),
            Level::Warning,
        ),
        // Going down: warning.
        (info(7, None), Some(&prev_high), Level::Warning),
        // New errors on two checks in a row with something pending: erroring.
        (info(2, Some(now - 5)), Some(&prev_err), Level::Critical),
        // One new error only: not yet.
        (info(2, Some(now - 5)), None, Level::Ok),
    ];
    for (i, (inf, prev, want_level)) in cases.into_iter().enumerate() {
        let (fs, _) = judge_webhook(&inf, prev, now, &want(), &t());
        assert_eq!(
            level(&fs, incident::WEBHOOK_STUCK),
            want_level,
            "case {i}: {fs:#?}"
        );
        assert_eq!(
            level(&fs, incident::WEBHOOK_WRONG_URL),
            Level::Ok,
            "case {i}"
        );
    }
}

#[test]
fn a_busy_bot_hovering_at_20_to_40_pending_is_never_stuck() {
    let now = 1_000_000;
    let mut prev: Option<WebhookObservation> = None;
    // The count goes up and down between 20 and 40, no delivery error, for an hour.
    for (i, pending) in [20u64, 31, 40, 40, 27, 35, 38, 38, 22, 40, 29, 33]
        .into_iter()
        .cycle()
        .take(120)
        .enumerate()
    {
        let at = now + i as i64 * 30;
        let (fs, obs) = judge_webhook(&info(pending, None), prev.as_ref(), at, &want(), &t());
        assert_ne!(
            level(&fs, incident::WEBHOOK_STUCK),
            Level::Critical,
            "check {i} ({pending} pending): {fs:#?}"
        );
        prev = Some(obs);
    }
    // An old error (hours ago) changes nothing.
    let (fs, _) = judge_webhook(
        &info(40, Some(now - 7200)),
        prev.as_ref(),
        now + 3600,
        &want(),
        &t(),
    );
    assert_ne!(level(&fs, incident::WEBHOOK_STUCK), Level::Critical);
}

#[test]
fn wrong_or_missing_url_is_critical_and_stuck_is_not_judged() {
    let mut i = info(50, Some(1));
    i.url = "https://elsewhere.example/hook".into();
    let (fs, _) = judge_webhook(&i, None, 10, &want(), &t());
    assert_eq!(level(&fs, incident::WEBHOOK_WRONG_URL), Level::Critical);
    assert!(fs.iter().all(|f| f.incident != incident::WEBHOOK_STUCK));
    i.url.clear();
    let (fs, _) = judge_webhook(&i, None, 10, &want(), &t());
    assert!(fs.iter().any(|f| f.reason.contains("no webhook is set")));
}

#[test]
fn settings_drift_is_a_warning() {
    let mut i = info(0, None);
    i.max_connections = Some(10);
    let (fs, _) = judge_webhook(&i, None, 10, &want(), &t());
    assert_eq!(level(&fs, incident::WEBHOOK_CONFIG), Level::Warning);
}

#[test]
fn a_certificate_without_its_file_and_a_lost_fixed_ip_are_warned_of() {
    let reason = |i: &WebhookInfo, w: &WebhookTarget| {
        let (fs, _) = judge_webhook(i, None, 10, w, &t());
        let f = fs
            .into_iter()
            .find(|f| f.incident == incident::WEBHOOK_CONFIG)
            .unwrap();
        (f.level, f.reason)
    };
    let mut i = info(0, None);
    assert_eq!(reason(&i, &want()).0, Level::Ok);
    i.has_custom_certificate = true;
    let (level, why) = reason(&i, &want());
    assert_eq!(level, Level::Warning);
    assert!(why.contains("webhook.certificate is not set"), "{why}");
    let mut w = want();
    w.certificate = Some(
        telbot_shared::telegram::Certificate::from_pem(
            "c.pem",
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
        )
        .unwrap(),
    );
    assert_eq!(reason(&i, &w).0, Level::Ok);
    i.has_custom_certificate = false;
    assert!(reason(&i, &w).1.contains("holds no custom certificate"));
    let mut w = want();
    w.ip_address = Some("203.0.113.7".into());
    i.ip_address = Some("198.51.100.1".into());
    let (level, why) = reason(&i, &w);
    assert_eq!(level, Level::Warning);
    assert!(why.contains("expected the fixed 203.0.113.7"), "{why}");
    // Telegram's default set shown as absent equals an empty configured list.
    let mut w = want();
    w.allowed_updates.clear();
    i.allowed_updates = None;
    i.ip_address = None;
    assert_eq!(reason(&i, &w).0, Level::Ok);
}
