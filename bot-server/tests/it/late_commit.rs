//! A commit whose outcome is unknown (it timed out) and that lands afterwards: its rows are
//! found and handled without waiting for the next insert. PostgreSQL with a synchronous
//! standby that does not exist holds every COMMIT until the setting is cleared — then it lands.

use crate::common;

use std::time::Duration;

use common::*;

fn update(id: i64) -> String {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": id, "type": "private", "first_name": "A"},
            "from": {"id": id, "is_bot": false, "first_name": "A"},
            "text": "/start",
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_commit_that_lands_after_its_timeout_is_handled_without_new_traffic() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let bot = start_bot(&sim, &db, &[]).await;
    assert_eq!(post_update(&bot, &update(1), Some(SECRET)).await, 200);
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    let pool = bot.state.db().pool.clone();
    sqlx::raw_sql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql("SELECT pg_reload_conf()")
        .execute(&pool)
        .await
        .unwrap();
    // The COMMIT hangs past the writer's timeout: 503, outcome unknown. (Each server process
    // rereads the setting when it gets to it: an update may still commit at once.)
    let mut late = 0;
    for id in 2..8 {
        let started = tokio::time::Instant::now();
        let code = post_update(&bot, &update(id), Some(SECRET)).await;
        eprintln!("update {id}: {code} after {:?}", started.elapsed());
        if code == 503 {
            late = id;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(late > 0, "no COMMIT was held by the missing standby");
    // Now it lands. Nothing else arrives.
    sqlx::raw_sql("ALTER SYSTEM RESET synchronous_standby_names")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql("SELECT pg_reload_conf()")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        // The writer reads the store again 1, 3, 7, 15, 30 and 60 s after the unknown commit:
        // the one after the COMMIT lands finds the row (up to 30 s later on a loaded machine).
        sim.wait_for(Duration::from_secs(65), |s| s
            .sent_messages()
            .iter()
            .any(|m| m.chat_id == late))
            .await,
        "the update whose commit landed late was never handled"
    );
    assert_eq!(
        wait_status(bot.state.db(), late, 1).await.map(|r| r.0),
        Some(1)
    );
    // Telegram's redelivery of the 503'd update is a duplicate: answered once.
    assert_eq!(post_update(&bot, &update(late), Some(SECRET)).await, 200);
    health_settled(&bot).await;
    assert_eq!(sim.sent_messages().len(), late as usize);
    bot.stop().await;
}
