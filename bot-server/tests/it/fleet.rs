//! Several bot-servers on one PostgreSQL: the inbox is shared by claims (each update answered
//! once, one chat in update order across instances), a dead instance's claims are taken over,
//! a stale finish is fenced out, one instance leads what faces Telegram, and `/ready` drains.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use bot_server::testing::Finish;
use bot_server::testing::{Status, claim};
use common::*;

/// A `/ping <chat>-<n>` update as Telegram would POST it.
fn ping(update_id: i64, chat: i64, n: usize) -> String {
    let text = format!("/ping {chat}-{n}");
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": false, "first_name": "A"},
            "text": text,
            "entities": [{"offset": 0, "length": 5, "type": "bot_command"}]
        }
    })
    .to_string()
}

/// The `n`s of each chat's `pong <chat>-<n>` replies, in the order the sim received them.
fn pongs_per_chat(sim: &telegram_sim::Sim) -> HashMap<i64, Vec<usize>> {
    let mut m: HashMap<i64, Vec<usize>> = HashMap::new();
    for s in sim.sent_messages() {
        let n = s
            .text
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a pong: {}", s.text));
        m.entry(s.chat_id).or_default().push(n);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_answer_each_update_once_and_each_chat_in_order() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let a = start_bot(&sim, &db, &[]).await;
    let b = start_bot(&sim, &db, &[]).await;
    // One leader registers the webhook; the other does not touch it.
    assert!(
        wait_until(Duration::from_secs(10), || a.state.is_leader()
            != b.state.is_leader())
        .await,
        "exactly one leader"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sim.calls_to("setWebhook").len(),
        1,
        "one setWebhook for the fleet"
    );
    assert_eq!(sim.calls_to("deleteWebhook").len(), 0);

    // 600 updates over 30 chats, alternately at each instance (a round-robin balancer), a few
    // at a time so both instances hold rows of one chat at once.
    let (chats, per_chat) = (30i64, 20usize);
    let bots = [&a, &b];
    let mut uid = 5_000i64;
    for n in 0..per_chat {
        let mut posts = Vec::new();
        for c in 0..chats {
            uid += 1;
            let bot = bots[(uid % 2) as usize];
            let body = ping(uid, 9_000 + c, n);
            posts.push(async move { post_update(bot, &body, Some(SECRET)).await });
        }
        for code in futures::future::join_all(posts).await {
            assert_eq!(code, 200);
        }
    }
    let total = chats as usize * per_chat;
    answered_once(&sim, &[&a, &b], total).await;
    let want: Vec<usize> = (0..per_chat).collect();
    for (chat, got) in pongs_per_chat(&sim) {
        assert_eq!(got, want, "chat {chat} out of order or incomplete");
    }
    let (pa, pb) = (processed(&a).await, processed(&b).await);
    assert_eq!(pa + pb, total as u64);
    assert!(pa > 0 && pb > 0, "both instances worked: {pa} + {pb}");
    a.stop().await;
    b.stop().await;
}

async fn processed(bot: &RunningBot) -> u64 {
    health(bot).await["updates"]["processed"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instance_s_claims_are_taken_over_after_the_lease_in_order() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    // A "ghost" instance (one that was killed -9) stored three updates of one chat and
    // claimed them, then died: its rows and claims are in the store, nobody runs them.
    let cfg = bot_server::BotConfig::load(None, &env(&sim, &db, 1)).unwrap();
    let store = telbot_shared::store::connect(&cfg.store).await.unwrap();
    let bodies: Vec<String> = (0..3).map(|n| ping(7_000 + n as i64, 77, n)).collect();
    let rows: Vec<(i64, &str, &str, &str)> = bodies
        .iter()
        .enumerate()
        .map(|(n, b)| (7_000 + n as i64, "message", "c77", b.as_str()))
        .collect();
    let mut conn = store.pool.acquire().await.unwrap();
    bot_server::testing::sql::insert_many(&mut conn, &rows, 0)
        .await
        .unwrap();
    drop(conn);
    let claimed = claim::claim(&store, "ghost", 10, 10, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3, "the ghost holds the chat's three rows");
    let (who, _) = claim::claim_of(&store, 7_000).await.unwrap().unwrap();
    assert_eq!(who, "ghost");

    let a = start_bot(&sim, &db, &[("TELBOT__INBOX__CLAIM_LEASE", "3s")]).await;
    // Nothing runs while the ghost's lease is live…
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(sim.sent_messages().is_empty(), "a live claim is not taken");
    // …and all three, in order, once it expired.
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() >= 3)
            .await,
        "the ghost's rows were never taken over"
    );
    assert_eq!(pongs_per_chat(&sim)[&77], vec![0, 1, 2]);
    let (status, _) = wait_status(&store, 7_000, 1).await.unwrap();
    assert_eq!(status, 1);
    // The ghost wakes up and finishes one of them: fenced out, the row keeps its result.
    let stale = Finish {
        reply: None,
        seq: claimed[0].seq,
        status: Status::Parked,
        attempts: 9,
        error: Some("stale".into()),
    };
    let mut conn = store.pool.acquire().await.unwrap();
    let written = bot_server::testing::sql::finish(&mut conn, &stale, 0, "ghost")
        .await
        .unwrap();
    assert!(
        !written,
        "a finish by an instance that lost its claim is fenced out"
    );
    drop(conn);
    assert_eq!(
        bot_server::testing::sql::status_of(&store, 7_000)
            .await
            .unwrap()
            .map(|r| r.0),
        Some(1),
        "still done, by the instance that took it over"
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_takes_the_lead_when_the_leader_stops() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let a = start_bot(&sim, &db, &[]).await;
    assert!(wait_until(Duration::from_secs(10), || a.state.is_leader()).await);
    let b = start_bot(&sim, &db, &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!b.state.is_leader(), "one leader at a time");
    let ready: serde_json::Value = reqwest::get(b.url("/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["leader"], false);
    let b_url = b.url("/webhook");
    a.stop().await;
    assert!(
        wait_until(Duration::from_secs(10), || b.state.is_leader()).await,
        "the follower never took the lead"
    );
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.webhook_info()["url"]
            == b_url)
            .await,
        "the new leader registers its own URL"
    );
    b.stop().await;
}

/// The leader flag `/ready` prints is right before the mode task has run: a SQLite instance
/// leads from the start (it is the only one the store allows), a PostgreSQL instance only
/// once it holds the lease. (CI once read `"leader": false` from a SQLite instance that had
/// just started.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_instance_leads_from_its_start_a_postgres_one_once_it_holds_the_lease() {
    let sim = sim().await;
    for (backend, leads) in [(Backend::Sqlite, true), (Backend::Postgres, false)] {
        let db = TestDb::new(backend);
        let app = reference(&sim, &db, &[]).start().await.unwrap();
        assert_eq!(app.state().is_leader(), leads, "{backend:?} before it runs");
        let stop = app.shutdown_token();
        stop.cancel();
        app.run_until_stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_while_draining_and_the_server_still_answers() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__SERVER__DRAIN_DELAY", "2s")]).await;
    let r = reqwest::get(bot.url("/ready")).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["leader"], true, "the one SQLite instance leads");
    bot.stop.cancel();
    assert!(
        wait_until_async(Duration::from_secs(5), || async {
            reqwest::get(bot.url("/ready")).await.unwrap().status() == 503
        })
        .await,
        "/ready turns 503 at the signal"
    );
    let r = reqwest::get(bot.url("/ready")).await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "draining");
    // Still serving during the drain delay: an update is stored and answered.
    assert_eq!(
        post_update(&bot, &ping(8_001, 81, 0), Some(SECRET)).await,
        200
    );
    assert!(
        sim.wait_for(Duration::from_secs(5), |s| s.sent_messages().len() == 1)
            .await
    );
    let exit = tokio::time::timeout(Duration::from_secs(30), bot.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, bot_server::Exit::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_update_notifies_the_other_instances() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let bot = start_bot(&sim, &db, &[]).await;
    let mut l = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
    l.listen(claim::CHANNEL).await.unwrap();
    assert_eq!(
        post_update(&bot, &ping(9_100, 91, 0), Some(SECRET)).await,
        200
    );
    let n = tokio::time::timeout(Duration::from_secs(5), l.recv())
        .await
        .expect("a notification for the stored row")
        .unwrap();
    assert_eq!(n.channel(), claim::CHANNEL);
    // A redelivery stores nothing new and wakes nobody.
    assert_eq!(
        post_update(&bot, &ping(9_100, 91, 0), Some(SECRET)).await,
        200
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), l.recv())
            .await
            .is_err(),
        "no notification for a duplicate"
    );
    bot.stop().await;
}

/// A PostgreSQL store with `rows` (update_id, queue key) inserted in this order.
async fn store_with(db: &TestDb, rows: &[(i64, String)]) -> telbot_shared::store::Db {
    let sim = sim().await;
    let cfg = bot_server::BotConfig::load(None, &env(&sim, db, 1)).unwrap();
    let store = telbot_shared::store::connect(&cfg.store).await.unwrap();
    let rows: Vec<(i64, &str, &str, &str)> = rows
        .iter()
        .map(|(id, key)| (*id, "message", key.as_str(), "{}"))
        .collect();
    let mut conn = store.pool.acquire().await.unwrap();
    bot_server::testing::sql::insert_many(&mut conn, &rows, 0)
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn a_claim_takes_the_oldest_free_heads_one_per_chat() {
    let db = TestDb::new(Backend::Postgres);
    // 100 chats round-robin, 30 rows each: the heads are the first 100 rows.
    let rows: Vec<(i64, String)> = (0..3000).map(|i| (i, format!("c{}", i % 100))).collect();
    let store = store_with(&db, &rows).await;
    let lease = Duration::from_secs(30);
    let a = claim::claim(&store, "a", 5, 2, lease).await.unwrap();
    let keys: Vec<&str> = a.iter().map(|i| &*i.key).collect();
    assert_eq!(
        keys,
        ["c0", "c1", "c2", "c3", "c4", "c0", "c1", "c2", "c3", "c4"],
        "each chat's head and the row after it, oldest chats first"
    );
    let b = claim::claim(&store, "b", 5, 1, lease).await.unwrap();
    let keys: Vec<&str> = b.iter().map(|i| &*i.key).collect();
    assert_eq!(
        keys,
        ["c5", "c6", "c7", "c8", "c9"],
        "claimed chats are passed over"
    );
}

#[tokio::test]
async fn a_chat_behind_a_backlog_of_running_chats_is_still_claimed() {
    let db = TestDb::new(Backend::Postgres);
    // Two flooding chats fill far more than the first pass's window, then one more chat.
    let mut rows: Vec<(i64, String)> = (0..5000).map(|i| (i, format!("f{}", i % 2))).collect();
    rows.push((9_999, "late".into()));
    let store = store_with(&db, &rows).await;
    let lease = Duration::from_secs(30);
    let busy = claim::claim(&store, "a", 2, 16, lease).await.unwrap();
    assert_eq!(busy.len(), 32, "both floods' heads and their next rows");
    assert!(busy.iter().all(|i| i.key.starts_with('f')));
    // Every head in the window is running: the claim looks past it.
    let late = claim::claim(&store, "b", 10, 16, lease).await.unwrap();
    assert_eq!(
        late.iter().map(|i| i.update_id).collect::<Vec<_>>(),
        [9_999]
    );
}
