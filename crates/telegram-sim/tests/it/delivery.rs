//! Webhook delivery: request shape, per-queue ordering, connection caps,
//! degraded mode, pending counts, reply-with-method.

use crate::common;

use std::time::Duration;

use common::{Mode, Receiver, WAIT, set_webhook, sim};
use serde_json::json;
use telegram_sim::Upd;

#[tokio::test]
async fn delivery_posts_one_update_per_request_with_secret_header() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url, "secret_token": "s3cr3t_-X"})).await;
    let ids: Vec<i64> = (0..3)
        .map(|i| sim.inject(Upd::text(1, format!("m{i}"))))
        .collect();
    assert!(sim.wait_for(WAIT, |_| rx.hits().len() >= 3).await);
    let hits = rx.hits();
    assert_eq!(
        hits.iter().map(common::Hit::update_id).collect::<Vec<_>>(),
        ids
    );
    for h in &hits {
        assert!(
            h.raw
                .starts_with(&format!("{{\"update_id\":{},", h.update_id())),
            "{}",
            h.raw
        );
        assert_eq!(
            h.body.as_object().unwrap().len(),
            2,
            "one update per POST: {}",
            h.raw
        );
        assert_eq!(h.headers["x-telegram-bot-api-secret-token"], "s3cr3t_-X");
        assert_eq!(h.headers["content-type"], "application/json");
    }
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);

    // Without a secret there is no header at all.
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1, "no secret"));
    assert!(sim.wait_for(WAIT, |_| rx.hits().len() >= 4).await);
    assert!(
        rx.hits()[3]
            .headers
            .get("x-telegram-bot-api-secret-token")
            .is_none()
    );
    assert_eq!(sim.deliveries().len(), 4);
    assert!(
        sim.deliveries()
            .iter()
            .all(|d| d.status == Some(200) && d.error.is_none())
    );
}

#[tokio::test]
async fn failing_chat_blocks_only_its_own_queue_and_order_is_kept() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode {
        failing_chats: vec![666],
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    let a1 = sim.inject(Upd::text(666, "a1"));
    let b1 = sim.inject(Upd::text(1, "b1"));
    let a2 = sim.inject(Upd::text(666, "a2"));
    let b2 = sim.inject(Upd::text(1, "b2"));
    let b3 = sim.inject(Upd::text(1, "b3"));
    let ok_b = |rx: &Receiver| {
        rx.hits()
            .iter()
            .filter(|h| h.chat_id() == Some(1) && h.status == 200)
            .map(common::Hit::update_id)
            .collect::<Vec<_>>()
    };
    assert!(sim.wait_for(WAIT, |_| ok_b(&rx).len() == 3).await);
    assert_eq!(
        ok_b(&rx),
        vec![b1, b2, b3],
        "chat 1 in order despite chat 666 failing"
    );
    assert!(
        sim.wait_for(WAIT, |_| rx
            .hits()
            .iter()
            .filter(|h| h.update_id() == a1)
            .count()
            >= 2)
            .await
    );
    assert!(
        rx.hits().iter().all(|h| h.update_id() != a2),
        "a2 must wait behind the failing a1"
    );
    assert_eq!(sim.pending_update_count(), 2);

    rx.set_mode(Mode::default());
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    let chat666: Vec<i64> = rx
        .hits()
        .iter()
        .filter(|h| h.chat_id() == Some(666) && h.status == 200)
        .map(common::Hit::update_id)
        .collect();
    assert_eq!(chat666, vec![a1, a2]);
}

#[tokio::test]
async fn max_connections_caps_parallel_deliveries() {
    let sim = sim(1.0).await;
    let rx = Receiver::start(Mode {
        delay: Duration::from_millis(300),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url, "max_connections": 3})).await;
    // One success first: right after setWebhook the sim is in degraded mode.
    sim.inject(Upd::text(1000, "prime"));
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    rx.reset_max();
    for chat in 1..=12 {
        sim.inject(Upd::text(chat, "parallel"));
    }
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    let max = rx.max_concurrent();
    assert!((2..=3).contains(&max), "max concurrent = {max}");
}

#[tokio::test]
async fn degraded_mode_allows_one_request_after_failures() {
    let sim = sim(0.05).await; // 10 s window → 0.5 s
    let rx = Receiver::start(Mode {
        delay: Duration::from_millis(150),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(1000, "prime"));
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    rx.reset_max();
    for chat in 1..=6 {
        sim.inject(Upd::text(chat, "healthy"));
    }
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
    assert!(rx.max_concurrent() >= 2, "healthy mode sends in parallel");

    rx.set_mode(Mode {
        status: 500,
        delay: Duration::from_millis(100),
        ..Mode::default()
    });
    for chat in 1..=6 {
        sim.inject(Upd::text(chat, "failing"));
    }
    // Let the 0.5 s window pass without a success, then measure.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rx.reset_max();
    let before = rx.hits().len();
    assert!(sim.wait_for(WAIT, |_| rx.hits().len() >= before + 4).await);
    assert_eq!(
        rx.max_concurrent(),
        1,
        "degraded mode: one request at a time"
    );
    assert_eq!(sim.pending_update_count(), 6);
}

#[tokio::test]
async fn pending_update_count_includes_in_flight_updates() {
    let sim = sim(1.0).await; // 60 s read timeout: the slow receiver must not time out
    let rx = Receiver::start(Mode {
        delay: Duration::from_millis(800),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    for i in 0..3 {
        sim.inject(Upd::text(1, format!("m{i}")));
    }
    assert_eq!(sim.pending_update_count(), 3);
    assert!(sim.wait_for(WAIT, |_| rx.current() == 1).await);
    assert_eq!(
        sim.pending_update_count(),
        3,
        "the one being delivered still counts"
    );
    assert_eq!(sim.webhook_info()["pending_update_count"], 3);
    assert!(sim.wait_for(WAIT, |s| s.pending_update_count() == 0).await);
}

#[tokio::test]
async fn a_method_in_the_webhook_reply_is_executed() {
    let sim = sim(0.01).await;
    let rx = Receiver::start(Mode {
        reply_body: Some(r#"{"method":"sendMessage","chat_id":5,"text":"from reply"}"#.to_owned()),
        ..Mode::default()
    })
    .await;
    set_webhook(&sim, json!({"url": rx.url})).await;
    sim.inject(Upd::text(5, "hi"));
    assert!(sim.wait_for(WAIT, |s| !s.sent_messages().is_empty()).await);
    assert_eq!(sim.sent_messages()[0].text, "from reply");
}

#[tokio::test]
async fn drop_pending_updates_on_set_webhook_clears_the_queue() {
    let sim = sim(0.01).await;
    sim.inject(Upd::text(1, "old"));
    let rx = Receiver::start(Mode::default()).await;
    set_webhook(&sim, json!({"url": rx.url, "drop_pending_updates": true})).await;
    assert_eq!(sim.pending_update_count(), 0);
    sim.inject(Upd::text(1, "new"));
    assert!(sim.wait_for(WAIT, |_| !rx.hits().is_empty()).await);
    assert_eq!(rx.hits()[0].body["message"]["text"], "new");
}
