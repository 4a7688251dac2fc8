//! `DATABASE_READ_URL`: the dashboard's watchdog views read from the replica, not from the
//! main store. The "replica" is a second database the test fills itself, so a row found there
//! and nowhere else proves where the dashboard read.

use crate::common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_watchdog_views_read_the_read_replica() {
    let db = TestDb::new(Backend::Postgres);
    let pg = db.pg.as_ref().unwrap();
    pg.create_database("replica").unwrap();
    let replica_url = pg.url_of("replica");
    // The replica's schema and a row only it has.
    let env: std::collections::HashMap<String, String> =
        [("DATABASE_URL".to_string(), replica_url.clone())].into();
    let replica = telbot_shared::store::connect(
        &telbot_shared::config::StoreConfig::from_section(
            telbot_shared::config::section(
                &telbot_shared::config::load(None, &env).unwrap(),
                "store",
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let now = telbot_shared::unix_now();
    sqlx::query("INSERT INTO wd_actions (kind, reason, result, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind("recovery").bind("seen only on the replica").bind("ok").bind("drained 3, replayed 3, dropped 0")
        .bind(now - 30).bind(now - 29)
        .execute(&replica.pool).await.unwrap();

    let sim = sim().await;
    let bot = start_bot(&sim, &db, &[("DATABASE_READ_URL", &replica_url)]).await;
    let r = reqwest::Client::new()
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: serde_json::Value = r.json().await.unwrap();
    let actions = d["watchdog"]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{d}");
    assert_eq!(actions[0]["reason"], "seen only on the replica", "{d}");
    // The main store has no such row: the bot wrote nothing there for the dashboard to find.
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM wd_actions")
        .fetch_one(&bot.state.db().pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    bot.stop().await;
}
