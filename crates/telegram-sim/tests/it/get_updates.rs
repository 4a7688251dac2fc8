//! getUpdates: offsets, limits, long polling and its conflicts.

use crate::common;

use std::time::{Duration, Instant};

use common::{call, desc, set_webhook, sim};
use serde_json::{Value, json};
use telegram_sim::Upd;

fn ids(v: &Value) -> Vec<i64> {
    v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn get_updates_is_409_while_a_webhook_is_set() {
    let sim = sim(1.0).await;
    set_webhook(&sim, json!({"url": "https://bot.example.com/hook"})).await;
    let (status, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(
        desc(&v),
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
}

#[tokio::test]
async fn offset_confirms_lower_ids_and_negative_offset_keeps_the_last_n() {
    let sim = sim(1.0).await;
    let a: Vec<i64> = (0..5)
        .map(|i| sim.inject(Upd::text(1, format!("m{i}"))))
        .collect();
    assert!(
        a.windows(2).all(|w| w[1] > w[0]),
        "ids must increase: {a:?}"
    );

    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(ids(&v), a, "offset 0 returns everything, confirms nothing");
    assert!(v["result"][0]["message"]["text"] == "m0");

    let (_, v) = call(&sim, "getUpdates", json!({"offset": a[2]})).await;
    assert_eq!(ids(&v), a[2..].to_vec());
    assert_eq!(sim.pending_update_count(), 3);

    let (_, v) = call(&sim, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(ids(&v), vec![a[4]]);
    assert_eq!(sim.pending_update_count(), 1);

    let (_, v) = call(&sim, "getUpdates", json!({"offset": a[4] + 1})).await;
    assert_eq!(ids(&v), Vec::<i64>::new());
    assert_eq!(sim.pending_update_count(), 0);
}

#[tokio::test]
async fn offset_far_in_the_future_is_ignored() {
    let sim = sim(1.0).await;
    let id = sim.inject(Upd::text(1, "x"));
    let (_, v) = call(&sim, "getUpdates", json!({"offset": id + 1000})).await;
    assert_eq!(ids(&v), vec![id]);
}

#[tokio::test]
async fn limit_is_clamped_to_1_100() {
    let sim = sim(1.0).await;
    for i in 0..105 {
        sim.inject(Upd::text(1, format!("m{i}")));
    }
    let (_, v) = call(&sim, "getUpdates", json!({"limit": 3})).await;
    assert_eq!(ids(&v).len(), 3);
    let (_, v) = call(&sim, "getUpdates", json!({"limit": 0})).await;
    assert_eq!(ids(&v).len(), 1);
    let (_, v) = call(&sim, "getUpdates", json!({"limit": 1000})).await;
    assert_eq!(ids(&v).len(), 100);
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(ids(&v).len(), 100);
}

#[tokio::test]
async fn long_poll_is_woken_by_a_new_update() {
    let sim = sim(1.0).await;
    let s2 = sim.clone();
    let poll = tokio::spawn(async move {
        let t = Instant::now();
        let r = call(&s2, "getUpdates", json!({"timeout": 30})).await;
        (r, t.elapsed())
    });
    assert!(
        sim.wait_for(common::WAIT, |s| !s.calls_to("getUpdates").is_empty())
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = sim.inject(Upd::text(1, "wake up"));
    let ((status, v), took) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(ids(&v), vec![id]);
    assert!(took < Duration::from_secs(25), "took {took:?}");
}

#[tokio::test]
async fn long_poll_times_out_with_an_empty_result() {
    let sim = sim(1.0).await;
    let t = Instant::now();
    let (status, v) = call(&sim, "getUpdates", json!({"timeout": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(v["result"], json!([]));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn second_long_poll_aborts_the_first_with_409() {
    let sim = sim(1.0).await;
    let s2 = sim.clone();
    let first = tokio::spawn(async move { call(&s2, "getUpdates", json!({"timeout": 30})).await });
    assert!(
        sim.wait_for(common::WAIT, |s| !s.calls_to("getUpdates").is_empty())
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s3 = sim.clone();
    let second = tokio::spawn(async move { call(&s3, "getUpdates", json!({"timeout": 2})).await });
    let (status, v) = first.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        desc(&v),
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    );
    let (status, _) = second.await.unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn set_webhook_aborts_a_waiting_long_poll() {
    let sim = sim(1.0).await;
    let s2 = sim.clone();
    let poll = tokio::spawn(async move { call(&s2, "getUpdates", json!({"timeout": 30})).await });
    assert!(
        sim.wait_for(common::WAIT, |s| !s.calls_to("getUpdates").is_empty())
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    set_webhook(&sim, json!({"url": "https://bot.example.com/hook"})).await;
    let (status, v) = poll.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(desc(&v), "Conflict: terminated by setWebhook request");
}

#[tokio::test]
async fn allowed_updates_filters_new_updates_by_type() {
    let sim = sim(1.0).await;
    call(
        &sim,
        "getUpdates",
        json!({"allowed_updates": ["callback_query"]}),
    )
    .await;
    sim.inject(Upd::text(1, "filtered out"));
    let cb = sim.inject(Upd::callback(1, "data"));
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(ids(&v), vec![cb]);
    assert_eq!(v["result"][0]["callback_query"]["data"], "data");
}
