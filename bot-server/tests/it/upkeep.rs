//! `/health`'s upkeep figures (issue 27 parts 2, 4, 5): every periodic job with its last run
//! and what it removed, the last hour's response times and handled share as users felt them
//! (a parked update counts against the share), and `system.warnings` past a configured level.

use std::time::Duration;

use bot_server::bot::HandlerError;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;

use crate::common::*;

/// Answers "fail" with a permanent error, anything else with nothing.
fn tree() -> UpdateHandler<HandlerError> {
    Update::filter_message().endpoint(|msg: Message| async move {
        if msg.text() == Some("fail") {
            return Err(Box::new(std::io::Error::other("the handler refuses")) as HandlerError);
        }
        Ok(())
    })
}

fn text(update_id: i64, t: &str) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": {"id": update_id, "type": "private", "first_name": "A"},
            "from": {"id": update_id, "is_bot": false, "first_name": "A"},
            "text": t
        }
    })
    .to_string()
}

#[tokio::test]
async fn health_shows_the_jobs_the_hour_and_the_resource_warnings() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[
            ("TELBOT__INBOX__MAX_ATTEMPTS", "1"),
            // Any disk use is past this level: the warning must show.
            ("TELBOT__LIMITS__DISK_WARN_PERCENT", "0.01"),
            ("TELBOT__LIMITS__SAMPLE_INTERVAL", "200ms"),
        ],
        tree(),
    )
    .await;
    for id in 1..=9 {
        assert_eq!(post_update(&bot, &text(id, "hi"), Some(SECRET)).await, 200);
    }
    assert_eq!(
        post_update(&bot, &text(10, "fail"), Some(SECRET)).await,
        200
    );
    let settled = telbot_testkit::wait_until_async(Duration::from_secs(10), || async {
        let h = health(&bot).await;
        h["hour"]["finished"] == 10
            && !h["system"]["warnings"]
                .as_array()
                .is_none_or(|w| w.is_empty())
    })
    .await;
    let h = health(&bot).await;
    assert!(settled, "{h:#}");
    assert_eq!(h["hour"]["parked"], 1, "{h:#}");
    assert_eq!(h["hour"]["handled_percent"], 90.0, "{h:#}");
    assert!(h["hour"]["response_p95_ms"].is_u64(), "{h:#}");
    let warnings = h["system"]["warnings"].to_string();
    assert!(
        warnings.contains("data disk") && warnings.contains("warning at 0 %"),
        "{warnings}"
    );
    for job in ["inbox_prune", "dialogue_sweep", "store_ping"] {
        let j = &h["jobs"][job];
        assert!(j["runs"].as_u64() >= Some(1), "{job}: {h:#}");
        assert!(j["last_run"].is_i64(), "{job}: {h:#}");
        assert_eq!(j["late"], false, "{job}: {h:#}");
    }
    bot.stop().await;
}

#[tokio::test]
async fn bad_resource_levels_are_named() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    for (key, value, says) in [
        (
            "TELBOT__LIMITS__CPU_WARN_PERCENT",
            "150",
            "limits.cpu_warn_percent",
        ),
        (
            "TELBOT__LIMITS__DISK_CRITICAL_PERCENT",
            "50",
            "limits.disk_critical_percent",
        ),
    ] {
        let mut e = env(&sim, &db, 1);
        e.insert(key.into(), value.into());
        let err = bot_server::BotConfig::load(None, &e)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{key}={value}: {err}");
    }
}
