#![allow(clippy::unwrap_used, clippy::expect_used)]
use secrecy::SecretString;

use super::*;
use crate::model::ActionNote;

const TOKEN: &str = "123456:AAHsecretTokenHalf_xyz";
const SMTP_PASS: &str = "smtp-p@ss<word>";

fn redactor() -> Redactor {
    Redactor::new([
        SecretString::from(TOKEN.to_string()),
        SecretString::from(SMTP_PASS.to_string()),
    ])
}

fn observation() -> Observation {
    Observation {
        key: "webhook-stuck".into(),
        level: Level::Critical,
        summary: "webhook stuck: 12 pending <script>".into(),
        evidence: serde_json::json!({
            "webhook_info": {
                "url": format!("https://bot.example/webhook?t={TOKEN}"),
                "pending_update_count": 12,
                "last_error_message": "Wrong response from the webhook: 500 Internal Server Error"
            },
            "health": { "status": "ok" },
            "smtp": SMTP_PASS
        }),
        actions: vec![ActionNote {
            kind: "lossless_recovery".into(),
            result: "failed".into(),
            detail: format!("setWebhook refused for bot{TOKEN}"),
        }],
        runbook_cmd: Some("watchdog recover".into()),
        recovered: Some("the webhook delivers again".into()),
    }
}

#[test]
fn table_of_notices() {
    let o = observation();
    let dash = Url::parse("https://bot.example/bot/dashboard").unwrap();
    let red = redactor();
    let ctx = RenderCtx {
        bot_name: "shopbot",
        dashboard_url: Some(&dash),
        redactor: &red,
    };
    // (kind, level, subject, must be in text, must not be in text)
    let cases = [
        (
            NoticeKind::Opened,
            Level::Critical,
            "[CRITICAL] shopbot: webhook stuck: 12 pending <script>",
            "Failing since: 2023-11-14T22:13:20Z (1h 1m ago)",
            "Resolved",
        ),
        (
            NoticeKind::Repeat,
            Level::Critical,
            "[CRITICAL] shopbot: webhook stuck: 12 pending <script> (still open)",
            "Next step:\n  watchdog recover",
            "Resolved at",
        ),
        (
            NoticeKind::Opened,
            Level::Warning,
            "[WARNING] shopbot: webhook stuck: 12 pending <script>",
            "WARNING: webhook stuck",
            "CRITICAL",
        ),
        (
            NoticeKind::Resolved,
            Level::Critical,
            "[RESOLVED] shopbot: the webhook delivers again (webhook-stuck lasted 1h 1m)",
            "Resolved at: 2023-11-14T23:14:20Z (after 1h 1m)",
            "Next step",
        ),
        (
            NoticeKind::Test,
            Level::Warning,
            "[WARNING] shopbot: webhook stuck: 12 pending <script>",
            "test alert",
            "Failing since",
        ),
    ];
    for (kind, level, subject, has, lacks) in cases {
        let n = Notice {
            kind,
            level,
            observation: &o,
            since: 1_700_000_000,
            now: 1_700_000_000 + 3660,
        };
        let m = render(&n, &ctx);
        assert_eq!(m.subject, subject, "{kind:?}");
        assert!(
            m.text.contains(has),
            "{kind:?}: {has:?} missing in\n{}",
            m.text
        );
        assert!(
            !m.text.contains(lacks),
            "{kind:?}: {lacks:?} present in\n{}",
            m.text
        );
        assert_eq!(m.resolved, kind == NoticeKind::Resolved);
        for part in [&m.subject, &m.text, &m.html] {
            assert!(
                !part.contains("secretTokenHalf"),
                "{kind:?}: token in {part}"
            );
            assert!(!part.contains("p@ss"), "{kind:?}: smtp password in {part}");
            assert!(!part.contains("p@ss&lt;word"), "{kind:?}");
        }
        assert!(!m.html.contains("<script>"), "{kind:?}: unescaped html");
        assert!(m.html.contains("&lt;script&gt;"), "{kind:?}");
        assert!(
            m.text.contains("https://bot.example/bot/dashboard"),
            "{kind:?}"
        );
        assert!(
            m.html
                .contains("href=\"https://bot.example/bot/dashboard\""),
            "{kind:?}"
        );
    }
}

#[test]
fn evidence_and_actions_are_in_both_parts() {
    let o = observation();
    let red = redactor();
    let ctx = RenderCtx {
        bot_name: "b",
        dashboard_url: None,
        redactor: &red,
    };
    let m = render(
        &Notice {
            kind: NoticeKind::Opened,
            level: Level::Critical,
            observation: &o,
            since: 0,
            now: 60,
        },
        &ctx,
    );
    for part in [&m.text, &m.html] {
        assert!(part.contains("webhook_info.pending_update_count"), "{part}");
        assert!(part.contains("500 Internal Server Error"), "{part}");
        assert!(part.contains("lossless_recovery"), "{part}");
        assert!(part.contains("failed"), "{part}");
        assert!(part.contains("watchdog recover"), "{part}");
        assert!(part.contains("[REDACTED]"), "{part}");
        assert!(
            !part.contains("Dashboard"),
            "no dashboard configured: {part}"
        );
    }
}

#[test]
fn subject_is_one_line_and_bounded() {
    let mut o = observation();
    o.summary = format!("line one\nline two\r\n{}", "x".repeat(500));
    let red = Redactor::default();
    let ctx = RenderCtx {
        bot_name: "b",
        dashboard_url: None,
        redactor: &red,
    };
    let m = render(
        &Notice {
            kind: NoticeKind::Opened,
            level: Level::Critical,
            observation: &o,
            since: 0,
            now: 0,
        },
        &ctx,
    );
    assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
    assert!(m.subject.starts_with("[CRITICAL] b: line one line two"));
    assert!(m.subject.chars().count() < 200);
}

#[test]
fn html_escape_table() {
    for (input, want) in [
        ("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&#39;"),
        ("plain", "plain"),
        ("", ""),
    ] {
        assert_eq!(html_escape(input), want);
    }
}

#[test]
fn evidence_flattening_table() {
    let cases = [
        (
            serde_json::json!({"a": {"b": 1, "c": "x"}}),
            vec![("a.b", "1"), ("a.c", "x")],
        ),
        (serde_json::json!("just text"), vec![("value", "just text")]),
        (serde_json::Value::Null, vec![]),
        (serde_json::json!({"list": [1, 2]}), vec![("list", "[1,2]")]),
    ];
    for (v, want) in cases {
        let got = evidence_lines(&v);
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }
}

/// Issue 16, part 8: a RESOLVED subject says what recovered and how long it lasted, never the
/// failure text again (that is in the body, labelled "What was wrong").
#[test]
fn resolved_subjects_say_what_recovered_and_how_long() {
    let red = Redactor::default();
    let ctx = RenderCtx {
        bot_name: "shopbot",
        dashboard_url: None,
        redactor: &red,
    };
    let mut o = Observation::new(
        "bot-down",
        Level::Critical,
        "bot is down: the last delivery error was 0 s ago",
    );
    let cases = [
        (
            Some("the bot answers /health again"),
            90,
            "[RESOLVED] shopbot: the bot answers /health again (bot-down lasted 1m 30s)",
        ),
        (
            None,
            3 * 3600 + 65,
            "[RESOLVED] shopbot: bot-down cleared after 3h 1m",
        ),
        (
            Some("  "),
            5,
            "[RESOLVED] shopbot: bot-down cleared after 5s",
        ),
    ];
    for (recovered, lasted, want) in cases {
        o.recovered = recovered.map(String::from);
        let m = render(
            &Notice {
                kind: NoticeKind::Resolved,
                level: Level::Critical,
                observation: &o,
                since: 1_000,
                now: 1_000 + lasted,
            },
            &ctx,
        );
        assert_eq!(m.subject, want);
        assert!(!m.subject.contains("delivery error"), "{}", m.subject);
        assert!(
            m.text
                .contains("What was wrong: bot is down: the last delivery error was 0 s ago"),
            "{}",
            m.text
        );
        assert!(m.text.contains("Evidence (the last failing check)") || o.evidence.is_null());
    }
}
