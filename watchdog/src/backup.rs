//! Online backups of a SQLite store (`watchdog backup now`, `watchdog backup verify`):
//! `VACUUM INTO` a timestamped file in `store.backup_dir` while both daemons keep running,
//! the oldest removed past `store.backup_keep`; verify opens the newest one read-only and
//! checks it (`PRAGMA integrity_check`, the inbox readable, its age). PostgreSQL stores are
//! backed up by their provider (README, "Backups").

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sqlx::Connection;
use telbot_shared::config::{Backend, StoreConfig};
use telbot_shared::store::Db;

/// The longest a backup or a verification may take.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Why a backup or its verification failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Only SQLite stores are backed up here.
    #[error(
        "backups are for SQLite stores; PostgreSQL is backed up by its provider (README, \"Backups\")"
    )]
    NotSqlite,
    /// The backup directory could not be used.
    #[error("backup dir {path}: {problem}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        problem: String,
    },
    /// No backup to verify.
    #[error("no backup in {0}")]
    None(String),
    /// The backup could not be written, or is not a sound copy of the store.
    #[error("backup {path}: {problem}")]
    Bad {
        /// The file.
        path: String,
        /// Why.
        problem: String,
    },
}

/// A verified backup.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The file.
    pub path: PathBuf,
    /// Rows in its inbox table.
    pub inbox_rows: i64,
    /// How old it is.
    pub age: Duration,
}

const PREFIX: &str = "telbot-";

/// Backups in `dir`, oldest first (the names sort by time).
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BackupError::Dir {
        path: dir.display().to_string(),
        problem: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".db"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes a new backup of `db` into `cfg.backup_dir` and prunes to `cfg.backup_keep`;
/// returns the new file and the removed ones.
pub(crate) async fn now(
    db: &Db,
    cfg: &StoreConfig,
) -> Result<(PathBuf, Vec<PathBuf>), BackupError> {
    if db.backend != Backend::Sqlite {
        return Err(BackupError::NotSqlite);
    }
    let dir = &cfg.backup_dir;
    let dir_err = |e: std::io::Error| BackupError::Dir {
        path: dir.display().to_string(),
        problem: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    // Millisecond names sort by time; two backups in one millisecond wait for the next one.
    let mut path = dir.join("unnamed");
    for _ in 0..1000 {
        let stamp = humantime::format_rfc3339_millis(SystemTime::now())
            .to_string()
            .replace(':', "-");
        path = dir.join(format!("{PREFIX}{stamp}.db"));
        if !path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let bad = |problem: String| BackupError::Bad {
        path: path.display().to_string(),
        problem,
    };
    // Written under a name `list` does not see, then renamed: a process killed half way
    // leaves a `.partial` file (removed by the next backup), never a truncated "newest".
    remove_stale_partials(dir);
    let partial = path.with_extension("db.partial");
    let target = partial.to_string_lossy().to_string();
    let written = tokio::time::timeout(
        TIMEOUT,
        sqlx::query("VACUUM INTO $1")
            .bind(&target)
            .execute(&db.pool),
    )
    .await;
    let failed = match written {
        Ok(Ok(_)) => std::fs::rename(&partial, &path)
            .err()
            .map(|e| format!("cannot rename {}: {e}", partial.display())),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("not written within {}s", TIMEOUT.as_secs())),
    };
    if let Some(problem) = failed {
        let _ = std::fs::remove_file(&partial);
        return Err(bad(problem));
    }
    let files = list(dir)?;
    let excess = files.len().saturating_sub(cfg.backup_keep as usize);
    let mut removed = Vec::new();
    for old in files.into_iter().take(excess) {
        std::fs::remove_file(&old).map_err(dir_err)?;
        removed.push(old);
    }
    Ok((path, removed))
}

/// Removes `.partial` files older than [`TIMEOUT`] (a backup that was killed half way; a
/// younger one may be another process's backup in progress).
fn remove_stale_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let stale = p.extension().is_some_and(|x| x == "partial")
            && std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > TIMEOUT);
        if stale {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// `watchdog.schedule.backup`: one backup, logged (the daemon has nobody to print to).
pub(crate) async fn scheduled(db: &Db, cfg: &StoreConfig) {
    match now(db, cfg).await {
        Ok((path, removed)) => {
            tracing::info!(path = %path.display(), removed = removed.len(), "store backup written")
        }
        Err(e) => tracing::error!(error = %e, "cannot back up the store"),
    }
}

/// Opens the newest backup in `dir` read-only and checks it.
pub(crate) async fn verify_newest(dir: &Path) -> Result<Verified, BackupError> {
    let newest = list(dir)?
        .pop()
        .ok_or_else(|| BackupError::None(dir.display().to_string()))?;
    verify(&newest).await
}

/// Checks one backup file: SQLite's integrity check passes and the inbox table reads.
pub(crate) async fn verify(path: &Path) -> Result<Verified, BackupError> {
    let bad = |problem: String| BackupError::Bad {
        path: path.display().to_string(),
        problem,
    };
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| bad(e.to_string()))?
        .elapsed()
        .unwrap_or_default();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let check = async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await?;
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await?;
        let inbox: Result<i64, sqlx::Error> = sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
            .fetch_one(&mut conn)
            .await;
        let _ = conn.close().await;
        Ok::<_, sqlx::Error>((rows, inbox))
    };
    let (rows, inbox) = match tokio::time::timeout(TIMEOUT, check).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(bad(format!("not a readable SQLite database: {e}"))),
        Err(_) => return Err(bad(format!("not checked within {}s", TIMEOUT.as_secs()))),
    };
    if rows != ["ok"] {
        return Err(bad(format!(
            "integrity check failed: {}",
            rows.into_iter().take(5).collect::<Vec<_>>().join("; ")
        )));
    }
    let inbox_rows = inbox.map_err(|e| bad(format!("the inbox table is not readable: {e}")))?;
    Ok(Verified {
        path: path.to_path_buf(),
        inbox_rows,
        age,
    })
}
