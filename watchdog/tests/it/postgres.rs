//! The watchdog on a real PostgreSQL store: a lossless recovery is recorded there, and its
//! cooldown (counted from the stored actions) holds across watchdog instances.

use crate::common;

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::report::{ActionKind, ActionResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_actions_and_cooldowns_across_instances() {
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let mut w = World::start().await;
    w.env.insert("DATABASE_URL".into(), pg.url());
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..20 {
        w.sim.inject(Upd::text(300 + (i % 4), format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].is_string()
    })
    .await;
    let out = wd.check().await;
    let a = &out.report.actions;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].kind, a[0].result),
        (ActionKind::LosslessRecovery, ActionResult::Succeeded)
    );
    assert_eq!(a[0].detail.replayed, Some(20));
    w.wait("20 replies", |s| s.sent_messages().len() == 20)
        .await;
    // Stored in PostgreSQL.
    let db = telbot_shared::store::connect(
        &telbot_shared::config::StoreConfig::from_section(
            telbot_shared::config::section(
                &telbot_shared::config::load(None, &w.env).unwrap(),
                "store",
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM wd_actions WHERE kind = 'lossless-recovery'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
    // A second watchdog (a restart) sees the cooldown in the store: the next stuck webhook
    // within the cooldown is not recovered again.
    let wd2 = w.watchdog().await;
    for i in 0..10 {
        w.sim.inject(Upd::text(400 + i, "again"));
    }
    w.wait("another delivery error", |s| s.pending_update_count() >= 6)
        .await;
    let out = wd2.check().await;
    assert!(
        out.report
            .actions
            .iter()
            .all(|a| a.result != ActionResult::Succeeded),
        "{:#?}",
        out.report.actions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recovery_lock_works_on_postgres_too() {
    use telbot_shared::recovery::{LEASE_TTL, Lease, holder};
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let mut w = World::start().await;
    w.env.insert("DATABASE_URL".into(), pg.url());
    let wd = w.watchdog().await;
    let db = wd.ctx().store.db().clone();
    let a = Lease::acquire(&db, "bot-server on a (pid 1)", LEASE_TTL)
        .await
        .unwrap();
    let err = Lease::acquire(&db, "watchdog on b (pid 2)", LEASE_TTL)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a recovery is already running (owner bot-server on a (pid 1))"
    );
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::SkippedCooldown);
    a.renew().await.unwrap();
    a.release().await.unwrap();
    assert!(holder(&db).await.unwrap().is_none());
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
}
