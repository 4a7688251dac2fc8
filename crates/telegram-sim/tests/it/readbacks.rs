//! Read-backs for load tests: a configurable log cap and the ids still pending.

use std::time::Duration;

use telegram_sim::{Sim, Upd};

#[tokio::test]
async fn log_cap_keeps_the_newest_entries_and_pending_ids_follow_the_offset() {
    let sim = Sim::builder().log_cap(3).start().await.unwrap();
    let ids: Vec<i64> = (0..5)
        .map(|i| sim.inject(Upd::command(7 + i, "/start")))
        .collect();
    assert_eq!(sim.pending_update_ids(), ids);
    let c = reqwest::Client::new();
    let url = |m: &str| format!("{}/bot{}/{m}", sim.base_url(), sim.token());
    for i in 0..5 {
        c.post(url("sendMessage"))
            .json(&serde_json::json!({"chat_id": 1, "text": format!("m{i}")}))
            .send()
            .await
            .unwrap();
    }
    let texts: Vec<String> = sim.sent_messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
    // Confirming with offset = third id + 1 acknowledges the first three.
    c.post(url("getUpdates"))
        .json(&serde_json::json!({"offset": ids[2] + 1, "timeout": 0}))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.pending_update_ids(), ids[3..].to_vec());
}
