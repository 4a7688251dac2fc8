//! Another process using the bot's token, as bot libraries behave at start: deleteWebhook
//! (keeping the queue), then long polling that confirms what it gets. It repeats the delete
//! every `every` (a dev instance restarting in a loop), straight at the Bot API (it runs
//! elsewhere, not behind the daemons' proxy). Bounded by `for_`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// Runs the intruder against `api` (`…/bot<token>`) for `for_`; the update_ids it took.
pub async fn run(api: &str, for_: Duration, every: Duration) -> Vec<i64> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let end = Instant::now() + for_;
    let mut took = Vec::new();
    let mut offset: Option<i64> = None;
    while Instant::now() < end {
        let _ = http
            .post(format!("{api}/deleteWebhook"))
            .json(&json!({}))
            .send()
            .await;
        let round = (Instant::now() + every).min(end);
        while Instant::now() < round {
            let mut body = json!({ "timeout": 1 });
            if let Some(o) = offset {
                body["offset"] = json!(o);
            }
            let Ok(r) = http
                .post(format!("{api}/getUpdates"))
                .json(&body)
                .send()
                .await
            else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let v: Value = r.json().await.unwrap_or_default();
            match v["result"].as_array() {
                Some(us) => {
                    for u in us {
                        if let Some(id) = u["update_id"].as_i64() {
                            took.push(id);
                            offset = Some(id + 1);
                        }
                    }
                }
                // 409: the bot took its webhook back, or its poll ended this one.
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    // Confirms the last batch, as a library does on its next call before it exits.
    if let Some(o) = offset {
        let _ = http
            .post(format!("{api}/getUpdates"))
            .json(&json!({ "offset": o, "timeout": 0 }))
            .send()
            .await;
    }
    took
}
