//! The store through a pooler (pgbouncer, as Supabase's pooled URL) and beside a direct URL
//! for migrations: migrations run by several processes at once under telbot's own lock row,
//! never sqlx's session advisory lock.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::Connection;
use telbot_shared::config::{StoreConfig, load, section};
use telbot_shared::store::{Db, connect};
use telbot_testkit::{PgBouncer, PgServer};

fn store_config(env: &[(&str, &str)]) -> StoreConfig {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    StoreConfig::from_section(section(&load(None, &env).unwrap(), "store").unwrap()).unwrap()
}

fn pg() -> PgServer {
    PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"))
}

async fn busy_work(db: &Db, me: usize) -> Result<(), String> {
    for i in 0..100 {
        let key = format!("k{me}-{i}");
        db.kv_set(&key, "v").await.map_err(|e| e.to_string())?;
        let got = db.kv_get(&key).await.map_err(|e| e.to_string())?;
        if got.as_deref() != Some("v") {
            return Err(format!("{key}: read back {got:?}"));
        }
    }
    Ok(())
}

/// Six "processes" connect (and so migrate a fresh database) at the same time.
async fn connect_six(cfg: &StoreConfig) -> Result<Vec<Db>, String> {
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let cfg = cfg.clone();
            tokio::spawn(async move { connect(&cfg).await })
        })
        .collect();
    let mut dbs = Vec::new();
    for t in tasks {
        dbs.push(t.await.unwrap().map_err(|e| e.to_string())?);
    }
    Ok(dbs)
}

/// sqlx's migrator key for a database (its `generate_lock_id`: CRC-32 of the name times a
/// constant).
fn sqlx_lock_id(database: &str) -> i64 {
    let mut crc = 0xffff_ffffu32;
    for b in database.bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    0x3d32_ad9e * i64::from(!crc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_take_no_advisory_lock_and_run_concurrently() {
    let pg = pg();
    // Somebody holds the advisory lock sqlx's migrator would wait for, for good.
    let mut holder = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(sqlx_lock_id("postgres"))
        .execute(&mut holder)
        .await
        .unwrap();
    let cfg = store_config(&[("DATABASE_URL", &pg.url())]);
    let dbs = tokio::time::timeout(Duration::from_secs(60), connect_six(&cfg))
        .await
        .expect("migrations waited for an advisory lock")
        .unwrap_or_else(|e| panic!("a concurrent migration failed: {e}"));
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM telbot_migration_lock")
        .fetch_one(&dbs[0].pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "every migration released its lock row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_pooled_url_with_a_direct_migrate_url() {
    let pg = pg();
    let bouncer = PgBouncer::start(&pg, "session", 60).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let cfg = store_config(&[
        ("DATABASE_URL", &bouncer.url("postgres")),
        ("DATABASE_MIGRATE_URL", &pg.url()),
    ]);
    let dbs = connect_six(&cfg)
        .await
        .unwrap_or_else(|e| panic!("connect through pgbouncer: {e}\n{}", bouncer.log()));
    let tasks: Vec<_> = dbs
        .into_iter()
        .enumerate()
        .map(|(me, db)| tokio::spawn(async move { busy_work(&db, me).await }))
        .collect();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            panic!("a query through pgbouncer failed: {e}\n{}", bouncer.log());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_migrations_through_the_pooler_itself() {
    let pg = pg();
    let bouncer = PgBouncer::start(&pg, "session", 60).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let cfg = store_config(&[("DATABASE_URL", &bouncer.url("postgres"))]);
    connect_six(&cfg)
        .await
        .unwrap_or_else(|e| panic!("migrations through pgbouncer: {e}\n{}", bouncer.log()));
}

/// Debian 12's pgbouncer (1.18) in transaction mode does not track prepared statements: the
/// store refuses it at connect, naming the URL and the fix, before any migration ran. Without
/// the probe the error is sqlx's own `prepared statement "sqlx_s_…"` at some later statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_mode_pooler_that_loses_prepared_statements_is_refused_at_connect() {
    let pg = pg();
    let bouncer =
        PgBouncer::start(&pg, "transaction", 4).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let cfg = store_config(&[("DATABASE_URL", &bouncer.url("postgres"))]);
    let err = connect(&cfg)
        .await
        .expect_err("a 1.18 transaction pooler was accepted");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            telbot_shared::store::StoreError::Pooler {
                url: "DATABASE_URL",
                ..
            }
        ),
        "{msg}"
    );
    for part in [
        "transaction-mode pooler",
        "session mode",
        "max_prepared_statements",
        "sqlx_s_",
    ] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    // Nothing was migrated through it.
    let direct = store_config(&[("DATABASE_URL", &pg.url())]);
    let mut c = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(n, 0, "migrations ran through the refused pooler");
    // The same server directly, and through the same pgbouncer's session mode, pass the probe.
    connect(&direct)
        .await
        .unwrap_or_else(|e| panic!("direct: {e}"));
    let session = PgBouncer::start(&pg, "session", 4).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    connect(&store_config(&[("DATABASE_URL", &session.url("postgres"))]))
        .await
        .unwrap_or_else(|e| panic!("session mode: {e}\n{}", session.log()));
}

/// A read replica URL through such a pooler is refused too, by its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_url_through_such_a_pooler_is_refused_by_its_name() {
    let pg = pg();
    let bouncer =
        PgBouncer::start(&pg, "transaction", 4).unwrap_or_else(|e| panic!("pgbouncer: {e}"));
    let cfg = store_config(&[
        ("DATABASE_URL", &pg.url()),
        ("DATABASE_READ_URL", &bouncer.url("postgres")),
    ]);
    let err = connect(&cfg).await.expect_err("accepted");
    assert!(
        matches!(
            err,
            telbot_shared::store::StoreError::Pooler {
                url: "DATABASE_READ_URL",
                ..
            }
        ),
        "{err}"
    );
}
