//! The `/_sim/` HTTP control API.

use crate::common;

use std::time::Duration;

use common::{Mode, Receiver, WAIT, call, client, set_webhook, sim};
use serde_json::{Value, json};
use telegram_sim::Sim;

async fn ctl(sim: &Sim, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn ctl_get(sim: &Sim, path: &str) -> Value {
    client()
        .get(format!("{}/_sim/{path}", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn control_inject_simple_shape() {
    let sim = sim(1.0).await;
    let (status, v) = ctl(
        &sim,
        "inject",
        json!({"kind": "text", "chat_id": 42, "text": "hi"}),
    )
    .await;
    assert_eq!(status, 200);
    let id = v["result"]["update_id"].as_i64().unwrap();
    let (_, u) = call(&sim, "getUpdates", json!({})).await;
    let upd = &u["result"][0];
    assert_eq!(upd["update_id"], id);
    assert_eq!(upd["message"]["text"], "hi");
    assert_eq!(upd["message"]["chat"]["id"], 42);
    assert_eq!(upd["message"]["from"]["id"], 42);

    let (status, v) = ctl(
        &sim,
        "inject",
        json!({"kind": "callback", "user_id": 7, "data": "yes"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = ctl(&sim, "inject", json!({"kind": "nope", "chat_id": 1})).await;
    assert_eq!(status, 400);
    let (status, _) = ctl(&sim, "inject", json!({"kind": "text"})).await;
    assert_eq!(status, 400, "chat_id is required");
}

#[tokio::test]
async fn control_inject_raw_update_object() {
    let sim = sim(1.0).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (status, v) = ctl(
        &sim,
        "inject",
        json!({"message": {"message_id": 1, "date": now, "chat": {"id": 3, "type": "private"}, "text": "raw"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, u) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(u["result"][0]["update_id"], v["result"]["update_id"]);
    assert_eq!(u["result"][0]["message"]["text"], "raw");
}

#[tokio::test]
async fn control_webhook_break_and_heal() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    let (status, _) = ctl(&sim, "webhook/break", json!({"status": 502})).await;
    assert_eq!(status, 200);
    ctl(
        &sim,
        "inject",
        json!({"kind": "text", "chat_id": 1, "text": "x"}),
    )
    .await;
    let err = "Wrong response from the webhook: 502 Bad Gateway";
    assert!(
        sim.wait_for(WAIT, |s| s.webhook_info()["last_error_message"] == err)
            .await
    );
    for mode in ["refuse", "hang", "redirect"] {
        let (status, _) = ctl(&sim, "webhook/break", json!({"mode": mode})).await;
        assert_eq!(status, 200, "{mode}");
    }
    let (status, _) = ctl(&sim, "webhook/break", json!({"mode": "explode"})).await;
    assert_eq!(status, 400);
    let (status, _) = ctl(&sim, "webhook/heal", json!({})).await;
    assert_eq!(status, 200);
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    assert_eq!(rx.hits().len(), 1);
}

#[tokio::test]
async fn control_fail_method_each_fault() {
    let sim = sim(1.0).await;
    ctl(
        &sim,
        "fail",
        json!({"method": "getMe", "fault": "500", "times": 1}),
    )
    .await;
    assert_eq!(call(&sim, "getMe", json!({})).await.0, 500);
    ctl(
        &sim,
        "fail",
        json!({"method": "getMe", "fault": "429", "retry_after": 2}),
    )
    .await;
    let (status, v) = call(&sim, "getMe", json!({})).await;
    assert_eq!(
        (status, v["parameters"]["retry_after"].clone()),
        (429, json!(2))
    );
    ctl(
        &sim,
        "fail",
        json!({"method": "getMe", "fault": "slow", "delay_ms": 200}),
    )
    .await;
    let t = std::time::Instant::now();
    assert_eq!(call(&sim, "getMe", json!({})).await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    ctl(&sim, "fail", json!({"method": "getMe", "fault": "drop"})).await;
    let url = format!("{}/bot{}/getMe", sim.base_url(), sim.token());
    assert!(client().get(url).send().await.is_err());
    assert_eq!(call(&sim, "getMe", json!({})).await.0, 200);
    let (status, _) = ctl(&sim, "fail", json!({"method": "getMe", "fault": "boom"})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn control_webhook_url_changes_it_behind_the_bots_back() {
    let sim = sim(0.01).await;
    let old = Receiver::start(Mode::default()).await;
    let new = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": old.url, "secret_token": "abc"})).await;
    let (status, _) = ctl(&sim, "webhook/url", json!({"url": new.url})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.webhook_info()["url"], json!(new.url));
    sim.inject(telegram_sim::Upd::text(1, "x"));
    assert!(sim.wait_for(WAIT, |_| new.hits().len() == 1).await);
    assert!(old.hits().is_empty());
    assert_eq!(
        new.hits()[0].headers["x-telegram-bot-api-secret-token"],
        "abc"
    );

    sim.set_webhook_url_behind_back("");
    assert_eq!(sim.webhook_info()["url"], "");
}

#[tokio::test]
async fn control_clock_offset_expires_updates() {
    let sim = sim(1.0).await;
    sim.inject(telegram_sim::Upd::text(1, "x"));
    let (status, _) = ctl(&sim, "clock", json!({"offset_secs": 86_401})).await;
    assert_eq!(status, 200);
    assert_eq!(sim.pending_update_count(), 0);
}

#[tokio::test]
async fn control_read_backs_calls_messages_state_deliveries() {
    let sim = sim(1.0).await;
    call(&sim, "sendMessage", json!({"chat_id": 5, "text": "hello"})).await;
    ctl(
        &sim,
        "inject",
        json!({"kind": "text", "chat_id": 1, "text": "x"}),
    )
    .await;
    let calls = ctl_get(&sim, "calls").await;
    assert_eq!(calls["result"][0]["method"], "sendMessage");
    assert_eq!(calls["result"][0]["params"]["text"], "hello");
    let msgs = ctl_get(&sim, "messages").await;
    assert_eq!(msgs["result"][0]["chat_id"], 5);
    assert_eq!(msgs["result"][0]["text"], "hello");
    let state = ctl_get(&sim, "state").await;
    assert_eq!(state["result"]["pending_update_count"], 1);
    assert_eq!(state["result"]["webhook_info"]["url"], "");
    let deliveries = ctl_get(&sim, "deliveries").await;
    assert_eq!(deliveries["result"], json!([]));
}
