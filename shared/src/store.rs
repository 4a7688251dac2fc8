//! The database both daemons share: connecting (SQLite with WAL and a busy timeout, or
//! PostgreSQL; optionally a read replica and a direct URL for migrations), running the
//! per-backend migrations under telbot's own lock row, and small helpers both use.
//!
//! SQL goes through sqlx's `Any` driver with `$N` placeholders, valid in both dialects; the
//! schema lives in `migrations/sqlite` and `migrations/postgres`.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use crate::config::{Backend, StoreConfig};
use crate::migration_lock::MigrationLock;

/// A store problem. The text never holds the connection URL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("store: {0}")]
    Db(String),
    /// Migrations failed.
    #[error("store migration: {0}")]
    Migrate(String),
    /// Another bot-server holds the SQLite file.
    #[error(
        "store: another bot-server is already running on the SQLite file {path}; SQLite allows \
         one bot-server per file (stop the other one, or use PostgreSQL to run several)"
    )]
    InstanceBusy {
        /// The database file.
        path: String,
    },
    /// A PostgreSQL URL goes through a pooler that loses sqlx's prepared statements.
    #[error(
        "store: {url} goes through a transaction-mode pooler that loses prepared statements \
         ({detail}); telbot's database driver (sqlx) needs them: {advice}",
        advice = crate::pooler_probe::ADVICE
    )]
    Pooler {
        /// Which URL (its variable's name).
        url: &'static str,
        /// What the database said.
        detail: String,
    },
    /// The data directory could not be created.
    #[error("store: cannot create data directory {path}: {problem}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        problem: String,
    },
}

impl From<crate::migration_lock::MigrationLockError> for StoreError {
    fn from(e: crate::migration_lock::MigrationLockError) -> Self {
        match e {
            crate::migration_lock::MigrationLockError::Db(e) => StoreError::Db(e.to_string()),
            crate::migration_lock::MigrationLockError::Held(why) => StoreError::Migrate(why),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if crate::pooler_probe::lost_statement(&e) {
            // A pooler changed after the start-up probe (or one the probe could not judge).
            return StoreError::Pooler {
                url: "DATABASE_URL",
                detail: e.to_string(),
            };
        }
        StoreError::Db(e.to_string())
    }
}

/// A connected store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool (both daemons keep their connections small).
    pub pool: AnyPool,
    /// Which dialect is behind the pool.
    pub backend: Backend,
    /// A read replica for monitoring reads (`store.read_url`), when configured.
    read: Option<AnyPool>,
}

/// Connects, creating the SQLite file and its directory if missing, and migrates.
pub async fn connect(cfg: &StoreConfig) -> Result<Db, StoreError> {
    sqlx::any::install_default_drivers();
    if cfg.backend == Backend::Sqlite {
        create_sqlite_dir(cfg)?;
        // One connection first: a read-only or non-database file fails here, once, with its
        // real cause (through the pool it is retried until "pool timed out").
        use sqlx::Connection;
        let db_err = |e: sqlx::Error| StoreError::Db(redact_url_in(&e.to_string(), cfg));
        let mut probe = sqlx::AnyConnection::connect(cfg.url.expose_secret())
            .await
            .map_err(db_err)?;
        let r = probe.execute("PRAGMA journal_mode = WAL").await;
        let _ = probe.close().await;
        r.map_err(db_err)?;
    }
    if cfg.backend == Backend::Postgres {
        probe_pooler(cfg, cfg.url.expose_secret(), "DATABASE_URL").await?;
        if let Some(url) = &cfg.read_url {
            probe_pooler(cfg, url.expose_secret(), "DATABASE_READ_URL").await?;
        }
    }
    let pool = open_pool(cfg, cfg.url.expose_secret(), cfg.max_connections).await?;
    // A read replica is opened at start like the main store, so a wrong URL fails here.
    let read = match &cfg.read_url {
        Some(url) => Some(open_pool(cfg, url.expose_secret(), 2).await?),
        None => None,
    };
    let db = Db {
        pool,
        backend: cfg.backend,
        read,
    };
    match &cfg.migrate_url {
        Some(url) => {
            // A direct connection beside a pooled URL: migrations only, closed afterwards.
            let direct = open_pool(cfg, url.expose_secret(), 1).await?;
            let r = migrate_on(&direct, cfg.backend, cfg.acquire_timeout).await;
            direct.close().await;
            r?;
        }
        None => migrate_on(&db.pool, db.backend, cfg.acquire_timeout).await?,
    }
    Ok(db)
}

/// Refuses a URL whose pooler loses prepared statements (see [`crate::pooler_probe`]), before
/// migrations would fail halfway with the pooler's error.
async fn probe_pooler(cfg: &StoreConfig, url: &str, name: &'static str) -> Result<(), StoreError> {
    use crate::pooler_probe::{Verdict, probe};
    match probe(url, cfg.acquire_timeout).await {
        Verdict::Carries => Ok(()),
        Verdict::Breaks(detail) => Err(StoreError::Pooler {
            url: name,
            detail: cfg.redact_in(&detail),
        }),
        Verdict::Unknown(why) => {
            tracing::debug!(url = name, why = %cfg.redact_in(&why), "pooler probe could not tell");
            Ok(())
        }
    }
}

/// A pool on `url` with the store's settings (WAL, busy timeout and the rest for SQLite).
async fn open_pool(cfg: &StoreConfig, url: &str, max: u32) -> Result<AnyPool, StoreError> {
    let sync = cfg.sqlite_synchronous.clone();
    let backend = cfg.backend;
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(cfg.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let sync = sync.clone();
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    // SQLite's default page cache is ~2 MiB per connection, kept for the
                    // connection's life: with a growing file and a pool of 8 it added up to
                    // ~16 MiB of RSS over a 10-minute soak. 512 KiB each bounds it to ~4 MiB
                    // (the OS page cache still holds the hot pages).
                    conn.execute("PRAGMA cache_size = -512").await?;
                    let pragma = match sync.as_str() {
                        "normal" => "PRAGMA synchronous = NORMAL",
                        "extra" => "PRAGMA synchronous = EXTRA",
                        _ => "PRAGMA synchronous = FULL",
                    };
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .after_release(move |conn, _meta| Box::pin(clean_after_release(conn, backend)))
        .connect(url)
        .await
        .map_err(|e| StoreError::Db(cfg.redact_in(&e.to_string())))
}

/// Runs this backend's migrations on `pool` under telbot's own lock row (never sqlx's
/// advisory lock). A store migrated by a newer build is accepted.
async fn migrate_on(pool: &AnyPool, backend: Backend, wait: Duration) -> Result<(), StoreError> {
    let mut m = match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    m.set_ignore_missing(true);
    m.set_locking(false);
    // Several processes may start at once (a deploy of two bot-servers and a watchdog): the
    // others wait for the first one's migrations, then find nothing to do.
    let lock = MigrationLock::acquire(pool, wait.max(Duration::from_secs(120))).await?;
    let r = m
        .run(pool)
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()));
    let released = lock.release().await;
    r?;
    Ok(released?)
}

/// Whether a released connection may go back to the pool: only when it is verifiably outside
/// any transaction. A write transaction whose COMMIT failed (a full disk, an I/O error) may be
/// left open — by the driver's count or by the database's — and on SQLite an open write
/// transaction holds the file's write lock: every other connection, in both daemons, then
/// gets "database is locked" until this one is closed. Every writer in the workspace (the inbox,
/// the watchdog's records, the alert outbox) goes through this check, not only the inbox.
async fn clean_after_release(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Runs a rollback the driver queued when a transaction was dropped unfinished.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("a store connection left inside a transaction is closed, not reused");
        return Ok(false);
    }
    if backend == Backend::Sqlite {
        // The driver's count can disagree with SQLite's own state after a failed COMMIT; a
        // deferred BEGIN (no lock taken) fails exactly when a transaction is still open.
        if conn.execute("BEGIN").await.is_err() {
            tracing::warn!("a SQLite connection still inside a transaction is closed, not reused");
            return Ok(false);
        }
        conn.execute("ROLLBACK").await?;
    }
    Ok(true)
}

fn redact_url_in(msg: &str, cfg: &StoreConfig) -> String {
    cfg.redact_in(msg)
}

/// The directory of a `sqlite://path?…` URL, when it names a file.
/// The database file of a SQLite URL (`None` for an in-memory database).
fn sqlite_file(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then_some(path)
}

/// Creates the directory of a SQLite store's file if it is missing.
fn create_sqlite_dir(cfg: &StoreConfig) -> Result<(), StoreError> {
    if let Some(dir) = sqlite_dir(cfg.url.expose_secret()) {
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::DataDir {
            path: dir.clone(),
            problem: e.to_string(),
        })?;
    }
    Ok(())
}

fn sqlite_dir(url: &str) -> Option<String> {
    let path = sqlite_file(url)?;
    let parent = std::path::Path::new(path).parent()?;
    let s = parent.to_string_lossy().to_string();
    (!s.is_empty()).then_some(s)
}

/// bot-server's claim on a SQLite file, held for the process's life: an exclusive lock on
/// `<file>.instance-lock` beside it. The inbox's workers follow the file in memory, so a second
/// bot-server on the same file would run every update again; the kernel drops the lock when
/// the process ends, however it ends (a kill -9 included), so a restart never waits. The
/// watchdog, which shares the file, takes no such lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: std::fs::File,
}

/// Takes [`InstanceLock`] for a SQLite store; `None` for PostgreSQL (several instances are
/// PostgreSQL's job) and an in-memory SQLite database.
pub fn lock_instance(cfg: &StoreConfig) -> Result<Option<InstanceLock>, StoreError> {
    if cfg.backend != Backend::Sqlite {
        return Ok(None);
    }
    let Some(path) = sqlite_file(cfg.url.expose_secret()) else {
        return Ok(None);
    };
    create_sqlite_dir(cfg)?;
    let lock_path = format!("{path}.instance-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Db(format!("cannot open {lock_path}: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(InstanceLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InstanceBusy {
            path: path.to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::Db(format!("cannot lock {lock_path}: {e}")))
        }
    }
}

impl Db {
    /// The store with `pool` as its only pool (no read replica), e.g. in tests.
    pub fn from_pool(pool: AnyPool, backend: Backend) -> Db {
        Db {
            pool,
            backend,
            read: None,
        }
    }

    /// Runs this backend's migrations (see [`connect`]).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate_on(&self.pool, self.backend, Duration::from_secs(120)).await
    }

    /// Where monitoring reads go: the read replica (`store.read_url`, `DATABASE_READ_URL`)
    /// when configured, else the main pool. Only for reads that may lag a little behind: the
    /// dashboard's views, the watchdog's digest and report queries. Never write through it.
    pub fn reader(&self) -> &AnyPool {
        self.read.as_ref().unwrap_or(&self.pool)
    }

    /// A round trip, bounded by `timeout`: is the store answering?
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(r) => r.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Db("ping timed out".into())),
        }
    }

    /// Reads a value from the shared `kv` table.
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM kv WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes a value into the shared `kv` table.
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(crate::unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a value from the shared `kv` table.
    pub async fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM kv WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_directory_of_a_sqlite_url() {
        assert_eq!(
            sqlite_dir("sqlite://./data/telbot.db?mode=rwc").as_deref(),
            Some("./data")
        );
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
    }
}
