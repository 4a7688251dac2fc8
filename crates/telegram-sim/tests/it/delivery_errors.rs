//! What failed deliveries leave behind: last_error strings, their
//! persistence, the retry schedule, Retry-After, expiry.

use crate::common;

use std::time::{Duration, SystemTime};

use common::{Mode, Receiver, WAIT, call, closed_port, set_webhook, sim};
use serde_json::json;
use telegram_sim::{Sim, Upd, WebhookFault};

fn last_error(sim: &Sim) -> Option<String> {
    sim.webhook_info()["last_error_message"]
        .as_str()
        .map(str::to_owned)
}

async fn wait_error(sim: &Sim, expected: &str) {
    let ok = sim
        .wait_for(WAIT, |s| last_error(s).as_deref() == Some(expected))
        .await;
    assert!(ok, "expected {expected:?}, got {:?}", last_error(sim));
    let date = sim.webhook_info()["last_error_date"].as_i64().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (date - i64::try_from(now).unwrap()).abs() < 60,
        "date {date}"
    );
}

#[tokio::test]
async fn last_error_for_a_500_answer() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode {
        status: 500,
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1, "x"));
    wait_error(
        &sim,
        "Wrong response from the webhook: 500 Internal Server Error",
    )
    .await;
    assert_eq!(sim.pending_update_count(), 1);
}

#[tokio::test]
async fn break_webhook_status_500_records_the_same_error_without_contacting_the_url() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.break_webhook(WebhookFault::Status(500));
    sim.inject(Upd::text(1, "x"));
    wait_error(
        &sim,
        "Wrong response from the webhook: 500 Internal Server Error",
    )
    .await;
    assert!(rx.hits().is_empty());
    let d = &sim.deliveries()[0];
    assert_eq!(d.status, Some(500));
    assert_eq!(d.url, rx.url);
    sim.heal_webhook();
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    assert_eq!(rx.hits().len(), 1);
}

#[tokio::test]
async fn last_error_connection_refused_for_a_closed_port() {
    let sim = sim(0.01).await;
    let port = closed_port().await;
    set_webhook(
        &sim,
        json!({"url": format!("http://127.0.0.1:{port}/hook")}),
    )
    .await;
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Connection refused").await;
}

#[tokio::test]
async fn break_webhook_refuse_records_connection_refused() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.break_webhook(WebhookFault::Refuse);
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Connection refused").await;
    assert!(rx.hits().is_empty());
}

#[tokio::test]
async fn last_error_read_timeout_for_a_hanging_webhook() {
    let sim = sim(0.01).await; // 60 s read timeout → 0.6 s
    let rx = Receiver::start(Mode {
        delay: Duration::from_secs(30),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Read timeout expired").await;
}

#[tokio::test]
async fn break_webhook_hang_records_read_timeout() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.break_webhook(WebhookFault::Hang);
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Read timeout expired").await;
    assert!(rx.hits().is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode {
        status: 302,
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Wrong response from the webhook: 302 Found").await;

    let sim2 = common::sim(0.01).await;
    set_webhook(&sim2, json!({"url": rx.url})).await;
    sim2.break_webhook(WebhookFault::Redirect);
    sim2.inject(Upd::text(1, "x"));
    wait_error(&sim2, "Wrong response from the webhook: 302 Found").await;
}

#[tokio::test]
async fn last_error_persists_after_success_until_the_webhook_changes() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode {
        status: 500,
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1, "x"));
    let err = "Wrong response from the webhook: 500 Internal Server Error";
    wait_error(&sim, err).await;
    rx.set_mode(Mode::default());
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    assert_eq!(
        last_error(&sim).as_deref(),
        Some(err),
        "kept after a success"
    );

    // An identical setWebhook is a no-op and keeps it too.
    let (_, v) = call(&sim, "setWebhook", json!({"url": rx.url})).await;
    assert_eq!(v["description"], "Webhook is already set");
    assert_eq!(last_error(&sim).as_deref(), Some(err));

    // A changing setWebhook clears it.
    set_webhook(&sim, json!({"url": rx.url, "max_connections": 10})).await;
    assert!(sim.webhook_info().get("last_error_date").is_none());
    assert!(sim.webhook_info().get("last_error_message").is_none());

    // deleteWebhook clears it as well.
    sim.break_webhook(WebhookFault::Refuse);
    sim.inject(Upd::text(1, "y"));
    wait_error(&sim, "Connection refused").await;
    call(&sim, "deleteWebhook", json!({})).await;
    assert!(last_error(&sim).is_none());
}

/// Gaps between consecutive attempts of one update, in seconds.
fn gaps(sim: &Sim, id: i64) -> Vec<f64> {
    let times: Vec<SystemTime> = sim
        .deliveries()
        .iter()
        .filter(|d| d.update_id == id)
        .map(|d| d.at)
        .collect();
    times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default().as_secs_f64())
        .collect()
}

#[tokio::test]
async fn retries_back_off_0_2_4_8_16_seconds_times_scale() {
    let scale = 0.05;
    let sim = sim(scale).await;
    set_webhook(&sim, json!({"url": "https://bot.example.com/hook"})).await;
    sim.break_webhook(WebhookFault::Status(500));
    let id = sim.inject(Upd::text(1, "x"));
    assert!(sim.wait_for(WAIT, |s| gaps(s, id).len() >= 5).await);
    let g = gaps(&sim, id);
    // Expected gaps: 0, 2, 4, 8, 16 Telegram seconds × 0.05.
    let expected = [0.0, 0.1, 0.2, 0.4, 0.8];
    for (i, e) in expected.iter().enumerate().skip(1) {
        assert!(g[i] >= e * 0.9, "gap {i} = {} < {e}: {g:?}", g[i]);
    }
    assert!(g[4] > g[0] + 0.5, "back-off must grow: {g:?}");
    assert!(g[4] > g[2] * 1.5, "back-off must grow: {g:?}");
}

#[tokio::test]
async fn retry_after_header_sets_the_next_delay() {
    let sim = sim(0.05).await; // Retry-After: 20 → 1 s
    let rx = Receiver::start(Mode {
        status: 429,
        retry_after: Some(20),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    let id = sim.inject(Upd::text(1, "x"));
    // Without Retry-After the first retry would be immediate.
    assert!(sim.wait_for(WAIT, |s| gaps(s, id).len() >= 2).await);
    let g = gaps(&sim, id);
    assert!(g[0] >= 0.9 && g[1] >= 0.9, "{g:?}");
    assert_eq!(
        last_error(&sim).as_deref(),
        Some("Wrong response from the webhook: 429 Too Many Requests")
    );
}

#[tokio::test]
async fn message_older_than_24h_is_dropped_when_its_next_retry_would_pass_expiry() {
    let sim = sim(0.01).await;
    set_webhook(&sim, json!({"url": "https://bot.example.com/hook"})).await;
    sim.break_webhook(WebhookFault::Status(500));
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    // Expires in ~10 s of sim time: retries at 0, 2, 4, 8 → the one after 8 s passes expiry.
    let id = sim.inject(Upd::text(1, "old").date(now - 86_400 + 10));
    assert!(
        sim.wait_for(WAIT, |s| s.dropped_updates().contains(&id))
            .await
    );
    assert_eq!(sim.pending_update_count(), 0);
    let attempts = sim
        .deliveries()
        .iter()
        .filter(|d| d.update_id == id)
        .count();
    assert!((2..=6).contains(&attempts), "attempts = {attempts}");
}

#[tokio::test]
async fn set_now_offset_expires_messages_after_24h_and_callbacks_after_150s() {
    let sim = sim(0.01).await;
    let msg = sim.inject(Upd::text(1, "x"));
    let cb = sim.inject(Upd::callback(1, "d"));
    sim.set_now_offset(151);
    assert_eq!(sim.pending_update_count(), 1);
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(v["result"][0]["update_id"], msg);
    sim.set_now_offset(86_401);
    let (_, v) = call(&sim, "getUpdates", json!({})).await;
    assert_eq!(v["result"], json!([]));
    assert!(sim.dropped_updates().contains(&cb));
    assert!(sim.dropped_updates().contains(&msg));
}

#[tokio::test]
async fn https_to_a_plain_http_port_records_an_ssl_error() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    let https = rx.url.replacen("http://", "https://", 1);
    set_webhook(&sim, json!({"url": https})).await;
    sim.inject(Upd::text(1, "x"));
    let ok = sim
        .wait_for(WAIT, |s| {
            last_error(s).is_some_and(|e| e.starts_with("SSL error {"))
        })
        .await;
    assert!(ok, "got {:?}", last_error(&sim));
}

#[tokio::test]
async fn non_loopback_hosts_are_never_contacted_and_fail_as_refused() {
    let sim = sim(0.01).await;
    set_webhook(&sim, json!({"url": "https://bot.example.com/hook"})).await;
    sim.inject(Upd::text(1, "x"));
    wait_error(&sim, "Connection refused").await;
}
