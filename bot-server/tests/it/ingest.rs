//! Updates in, replies out: the durable inbox against telegram-sim, on SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::*;
use telegram_sim::Upd;

async fn thousand_updates_each_answered_once(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(&sim, &db, &[]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    let chats = 100i64;
    for i in 0..1000i64 {
        sim.inject(Upd::command(1000 + i % chats, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(90), |s| s.sent_messages().len() >= 1000)
            .await,
        "only {} replies",
        sim.sent_messages().len()
    );
    // Settle: every stored update finished, so nothing more can arrive.
    health_settled(&bot).await;
    let per_chat = replies_per_chat(&sim);
    assert_eq!(sim.sent_messages().len(), 1000);
    assert_eq!(per_chat.len(), chats as usize);
    assert!(per_chat.values().all(|&n| n == 10), "{per_chat:?}");
    let h = health(&bot).await;
    assert_eq!(h["updates"]["received"], 1000);
    assert_eq!(h["updates"]["processed"], 1000);
    assert_eq!(h["updates"]["inbox_depth"], 0);
    assert_eq!(sim.pending_update_count(), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_thousand_updates_are_each_answered_once() {
    thousand_updates_each_answered_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_thousand_updates_are_each_answered_once() {
    thousand_updates_each_answered_once(Backend::Postgres).await;
}

async fn redelivery_is_answered_once(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(&sim, &db, &[]).await;
    let body = r#"{"update_id":777001,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private","first_name":"A"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"/help","entities":[{"offset":0,"length":5,"type":"bot_command"}]}}"#;
    assert_eq!(post_update(&bot, body, Some(SECRET)).await, 200);
    assert_eq!(post_update(&bot, body, Some(SECRET)).await, 200);
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    health_settled(&bot).await;
    assert_eq!(sim.sent_messages().len(), 1);
    let h = health(&bot).await;
    assert_eq!(h["updates"]["duplicates"], 1);
    assert_eq!(h["updates"]["received"], 1);
    bot.stop().await;
}

#[tokio::test]
async fn sqlite_the_same_update_twice_gets_one_reply() {
    redelivery_is_answered_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_same_update_twice_gets_one_reply() {
    redelivery_is_answered_once(Backend::Postgres).await;
}

#[tokio::test]
async fn one_chat_is_handled_in_update_order() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    // /report then its text: handled out of order, the text would not find the pending action.
    for round in 0..20 {
        sim.inject(Upd::command(5, "/report"));
        sim.inject(Upd::text(5, format!("report {round}")));
    }
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.sent_messages().len() >= 40)
            .await
    );
    let texts: Vec<String> = sim.sent_messages().into_iter().map(|m| m.text).collect();
    for pair in texts.chunks(2) {
        assert!(
            pair[0].starts_with("What would you like to report"),
            "{texts:?}"
        );
        assert!(pair[1].starts_with("Thank you"), "{texts:?}");
    }
    bot.stop().await;
}

/// Group commits of every size from 1 to 200 rows on one connection, `rounds` times.
async fn insert_every_size(conn: &mut sqlx::AnyConnection, next_id: &mut i64) {
    use sqlx::Connection;
    let payload = r#"{"update_id":1,"message":{"message_id":1,"chat":{"id":1,"type":"private"},"date":0,"text":"x"}}"#;
    for n in 1..=200usize {
        let rows: Vec<(i64, &str, &str, &str)> = (0..n)
            .map(|i| (*next_id + i as i64, "message", "c:1", payload))
            .collect();
        *next_id += n as i64;
        let mut tx = conn.begin().await.unwrap();
        bot_server::testing::sql::insert_many(&mut tx, &rows, 0)
            .await
            .unwrap();
        let seqs: Vec<i64> = (1..=n as i64).collect();
        bot_server::testing::sql::finish_done_many(&mut tx, &seqs, 1, 0, "")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

/// The soak's RSS grew in steps: every group-commit size became its own cached prepared
/// statement on every pooled connection. Connections that see every batch size must not keep
/// them (the first connection warms up everything else: the driver, the page cache's
/// high-water mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_every_size_are_not_kept_as_prepared_statements() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let mut next_id = 10_000_000i64;
    let mut a = bot.state.db().pool.acquire().await.unwrap();
    insert_every_size(&mut a, &mut next_id).await;
    let before = rss_kib();
    let mut b = bot.state.db().pool.acquire().await.unwrap();
    insert_every_size(&mut b, &mut next_id).await;
    let mut c = bot.state.db().pool.acquire().await.unwrap();
    insert_every_size(&mut c, &mut next_id).await;
    let grown = rss_kib().saturating_sub(before);
    drop((a, b, c));
    bot.stop().await;
    // Measured: 18 MiB when every size was cached (~9 MiB a connection, so ~70 MiB for a
    // pool of 8), under 3 MiB since (the two connections' page caches and allocator slack).
    assert!(
        grown < 8 * 1024,
        "RSS grew {grown} KiB over two connections that saw every batch size"
    );
}
