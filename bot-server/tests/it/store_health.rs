//! `/health`'s `checks.store` follows the inbox's commits, not only the ping: a trigger makes
//! every insert fail while `SELECT 1` keeps answering. On SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use common::*;

async fn store_check_follows_failing_commits(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(&sim, &db, &[]).await;
    let pool = &bot.state.db().pool;
    let (create, drop_it): (&[&str], &[&str]) = match backend {
        Backend::Sqlite => (
            &[
                "CREATE TRIGGER inbox_fail BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            ],
            &["DROP TRIGGER inbox_fail"],
        ),
        Backend::Postgres => (
            &[
                "CREATE FUNCTION inbox_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER inbox_fail BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION inbox_fail()",
            ],
            &["DROP TRIGGER inbox_fail ON inbox"],
        ),
    };
    for s in create {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*s))
            .execute(pool)
            .await
            .unwrap();
    }
    let body = |id: i64| {
        format!(
            r#"{{"update_id":{id},"message":{{"message_id":1,"date":1,"chat":{{"id":{id},"type":"private","first_name":"A"}},"from":{{"id":{id},"is_bot":false,"first_name":"A"}},"text":"/start","entities":[{{"offset":0,"length":6,"type":"bot_command"}}]}}}}"#
        )
    };
    assert_eq!(post_update(&bot, &body(1), Some(SECRET)).await, 503);
    let h = health(&bot).await;
    assert_eq!(h["checks"]["store"]["status"], "degraded", "{h}");
    assert_eq!(h["status"], "degraded");
    for id in 2..=3 {
        assert_eq!(post_update(&bot, &body(id), Some(SECRET)).await, 503);
    }
    // The ping keeps answering (every 2 s); the store stays down while its commits fail.
    for _ in 0..6 {
        let h = health(&bot).await;
        assert_eq!(h["checks"]["store"]["status"], "down", "{h}");
        assert!(
            h["checks"]["store"]["detail"]
                .as_str()
                .unwrap()
                .contains("injected failure"),
            "{h}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let r = reqwest::get(bot.url("/health")).await.unwrap();
    assert_eq!(r.status(), 503);
    for s in drop_it {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*s))
            .execute(pool)
            .await
            .unwrap();
    }
    for id in 1..=4 {
        assert_eq!(post_update(&bot, &body(id), Some(SECRET)).await, 200);
    }
    let h = health(&bot).await;
    assert_eq!(h["checks"]["store"]["status"], "ok", "{h}");
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 4)
            .await
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_store_check_follows_failing_commits() {
    store_check_follows_failing_commits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_store_check_follows_failing_commits() {
    store_check_follows_failing_commits(Backend::Postgres).await;
}
