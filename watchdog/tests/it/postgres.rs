//! The watchdog on a real PostgreSQL store: a lossless recovery is recorded there, and its
//! cooldown (counted from the stored actions) holds across watchdog instances.

use crate::common;

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::{ActionKind, ActionResult};

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
    use telbot_shared::lease::{LEASE_TTL, Lease, holder};
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

/// `DATABASE_READ_URL`: the digest's reads go to the replica (here a second database the test
/// fills itself: a row only it has shows in the digest), everything else to the main store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_reads_the_read_replica() {
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    pg.create_database("replica").unwrap();
    let mut w = World::start().await;
    w.env.insert("DATABASE_URL".into(), pg.url());
    let mut replica_env = w.env.clone();
    replica_env.insert("DATABASE_URL".into(), pg.url_of("replica"));
    let replica = telbot_shared::store::connect(
        &telbot_shared::config::StoreConfig::from_section(
            telbot_shared::config::section(
                &telbot_shared::config::load(None, &replica_env).unwrap(),
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
        .bind("lossless-recovery").bind("webhook stuck").bind("succeeded").bind("drained 7, replayed 7, dropped 0 (replica)")
        .bind(now - 60).bind(now - 59)
        .execute(&replica.pool).await.unwrap();
    w.env
        .insert("DATABASE_READ_URL".into(), pg.url_of("replica"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(["digest", "--no-send"])
        .env_clear()
        .envs(&w.env)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), out)
        .await
        .unwrap()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("(replica)"),
        "the digest did not read the replica: {text}"
    );
}

/// Two watchdogs on a pooled URL (a real pgbouncer, session mode, as Supabase's pooler on port
/// 5432), started together so they migrate concurrently through it: both check, one leads,
/// their runs are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_watchdogs_on_the_pooled_url() {
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let bouncer = telbot_testkit::PgBouncer::start(&pg, "session", 40)
        .unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let mut w = World::start().await;
    w.env.insert("DATABASE_URL".into(), bouncer.url("postgres"));
    let (a, b) = tokio::join!(w.watchdog(), w.watchdog());
    let (oa, ob) = tokio::join!(a.check(), b.check());
    assert!(oa.report.actions.is_empty() && ob.report.actions.is_empty());
    let mut direct = w.env.clone();
    direct.insert("DATABASE_URL".into(), pg.url());
    let db = telbot_shared::store::connect(
        &telbot_shared::config::StoreConfig::from_section(
            telbot_shared::config::section(
                &telbot_shared::config::load(None, &direct).unwrap(),
                "store",
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM wd_runs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        n >= 1,
        "runs stored through the pooler: {n}\n{}",
        bouncer.log()
    );
}

/// A transaction-mode pooler that loses prepared statements (Debian 12's pgbouncer 1.18):
/// `watchdog check` refuses it as a configuration error (78), naming the variable and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_mode_pooler_is_a_configuration_error_naming_the_fix() {
    let pg =
        telbot_testkit::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let bouncer = telbot_testkit::PgBouncer::start(&pg, "transaction", 4)
        .unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let mut w = World::start().await;
    w.env.insert("DATABASE_URL".into(), bouncer.url("postgres"));
    let (code, out) = crate::common::run_binary(&w.env, &["check"]).await;
    assert_eq!(code, 78, "{out}");
    for part in ["DATABASE_URL", "transaction-mode pooler", "session mode"] {
        assert!(out.contains(part), "{part:?} missing from: {out}");
    }
}
