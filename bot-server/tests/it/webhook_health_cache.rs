//! `/webhook/health`: a refresh dropped half way does not freeze the cache, and a delivery
//! error followed by deliveries that arrived is history, not a problem.

use crate::common;

use std::time::Duration;

use bot_server::Expectation;
use bot_server::Mode;
use common::*;
use telegram_sim::{ApiFault, Upd, WebhookFault};

async fn webhook_health(bot: &RunningBot) -> (u16, serde_json::Value) {
    let r = reqwest::get(bot.url("/webhook/health")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_dropped_half_way_does_not_freeze_the_cache() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let cache = bot.state.webhook_health();
    let exp = Expectation {
        url: Some(bot.url("/webhook")),
        mode: Mode::Webhook,
        max_pending: 5,
        error_window: Duration::from_secs(600),
    };
    let max_age = Duration::from_millis(100);
    cache.get(bot.state.api(), &exp, max_age).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    // A slow getWebhookInfo, and a caller that gives up (the dashboard's wait, a client).
    sim.fail_method("getWebhookInfo", ApiFault::Slow(Duration::from_secs(3)), 1);
    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        cache.get(bot.state.api(), &exp, max_age),
    )
    .await;
    assert!(dropped.is_err(), "dropped mid-refresh");
    assert!(
        !cache.is_refreshing(),
        "the flag went with the dropped refresh"
    );
    // The next request refreshes: it asks Telegram again and sees what changed.
    sim.set_webhook_url_behind_back("http://127.0.0.1:9/elsewhere");
    let calls = sim.calls_to("getWebhookInfo").len();
    let (v, healthy) = cache.get(bot.state.api(), &exp, max_age).await;
    assert!(
        sim.calls_to("getWebhookInfo").len() > calls,
        "asked Telegram again"
    );
    assert!(!healthy);
    assert_eq!(
        v["webhook_info"]["url"], "http://127.0.0.1:9/elsewhere",
        "{v}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_followed_by_deliveries_that_arrived_is_history() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__HEALTH_CACHE", "50ms")]).await;
    let want = bot.url("/webhook");
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.webhook_info()["url"]
            == want.as_str())
            .await
    );
    sim.break_webhook(WebhookFault::Status(502));
    sim.inject(Upd::command(91, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| {
            s.webhook_info()["last_error_date"].is_i64()
        })
        .await
    );
    let (code, v) = webhook_health(&bot).await;
    assert_eq!(code, 503, "a fresh error with nothing delivered since: {v}");
    // Deliveries work again and the update is answered.
    sim.heal_webhook();
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.sent_messages().len() == 1
            && s.pending_update_count() == 0)
            .await
    );
    assert!(
        sim.webhook_info()["last_error_date"].is_i64(),
        "Telegram keeps it"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, v) = webhook_health(&bot).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["webhook_info"]["is_healthy"], true, "{v}");
    bot.stop().await;
}
