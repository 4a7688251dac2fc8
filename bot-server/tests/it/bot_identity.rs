//! Dedup is tied to one bot: a store that holds another bot's inbox is refused at start
//! (their update ids collide), or, with `inbox.new_bot = "fresh"`, gets a fresh inbox — and
//! the new bot's updates whose ids the old bot used are then answered, not dropped.

use crate::common;

use std::time::Duration;

use common::*;
use telegram_sim::{Sim, Upd};

/// A sim for `token` whose update ids start at 1000.
async fn bot_sim(token: &str) -> Sim {
    Sim::builder()
        .token(token)
        .first_update_id(1000)
        .allow_http_loopback(true)
        .time_scale(0.01)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_bot_on_the_same_store_is_refused_or_gets_a_fresh_inbox() {
    let first = bot_sim("131313:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&first, &db, &[]).await;
    let ids: Vec<i64> = (0..3)
        .map(|i| first.inject(Upd::text(5, format!("old {i}"))))
        .collect();
    assert!(
        first
            .wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 3)
            .await
    );
    bot.stop().await;

    let second = bot_sim("424242:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB").await;
    let err = match reference(&second, &db, &[]).start().await {
        Ok(_) => panic!("a store holding another bot's inbox was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("424242") && err.contains("inbox.new_bot"),
        "{err}"
    );
    assert!(!err.contains("BBBBBBBB"), "the token leaked: {err}");

    // Explicitly a fresh inbox: the new bot's updates with the old bot's ids are answered.
    let bot = start_bot(&second, &db, &[("TELBOT__INBOX__NEW_BOT", "fresh")]).await;
    let new_ids: Vec<i64> = (0..3)
        .map(|i| second.inject(Upd::text(6, format!("new {i}"))))
        .collect();
    assert_eq!(new_ids, ids, "the two sims hand out the same update ids");
    assert!(
        second
            .wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 3)
            .await,
        "the new bot's updates were dropped as duplicates of the old bot's"
    );
    bot.stop().await;
    // And the store is now the new bot's: a plain start is accepted.
    let bot = start_bot(&second, &db, &[]).await;
    bot.stop().await;
}

#[tokio::test]
async fn a_bad_new_bot_value_is_named() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let mut e = env(&sim, &db, 1);
    e.insert("TELBOT__INBOX__NEW_BOT".into(), "wipe".into());
    let err = bot_server::BotConfig::load(None, &e)
        .unwrap_err()
        .to_string();
    assert!(err.contains("new_bot"), "{err}");
}
