//! The `[store]` section: the database URL (and the optional direct URL for migrations and
//! read-replica URL beside it), validated into [`StoreConfig`].

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::ConfigError;

/// The `[store]` section as written.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreSection {
    /// `sqlite://…` or `postgres://…`; empty: SQLite in data_dir.
    pub database_url: String,
    /// A direct URL for migrations only (beside a pooled database_url); empty: database_url.
    #[serde(default)]
    pub migrate_url: String,
    /// A read replica for the monitoring reads; empty: database_url.
    #[serde(default)]
    pub read_url: String,
    /// Where the default SQLite file lives.
    pub data_dir: PathBuf,
    /// Pool size.
    pub max_connections: u32,
    /// How long a query waits for a connection.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// SQLite `synchronous` pragma.
    pub sqlite_synchronous: String,
    /// Where SQLite backups go; empty: `<data_dir>/backups`.
    #[serde(default)]
    pub backup_dir: PathBuf,
    /// Backups kept.
    #[serde(default = "default_keep")]
    pub backup_keep: u32,
    /// Older than this, the newest backup is a warning.
    #[serde(with = "humantime_serde", default = "default_max_age")]
    pub backup_max_age: Duration,
}

fn default_keep() -> u32 {
    7
}

fn default_max_age() -> Duration {
    Duration::from_secs(26 * 3600)
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file shared by both daemons (WAL, busy timeout).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Validated store settings.
#[derive(Clone)]
pub struct StoreConfig {
    /// The connection URL; may hold a password, so it is never printed (see [`StoreConfig::redacted_url`]).
    pub url: SecretString,
    /// Where migrations run, when not over `url` (a direct URL beside a pooled one).
    pub migrate_url: Option<SecretString>,
    /// A read replica for the monitoring reads ([`crate::store::Db::reader`]).
    pub read_url: Option<SecretString>,
    /// SQLite or PostgreSQL.
    pub backend: Backend,
    /// Directory created before a SQLite file is opened.
    pub data_dir: PathBuf,
    /// Pool size.
    pub max_connections: u32,
    /// How long a query waits for a connection.
    pub acquire_timeout: Duration,
    /// `PRAGMA synchronous` value for SQLite.
    pub sqlite_synchronous: String,
    /// Where SQLite backups go (`store.backup_dir`, default `<data_dir>/backups`).
    pub backup_dir: PathBuf,
    /// Backups kept (`store.backup_keep`, at least 1).
    pub backup_keep: u32,
    /// Older than this, the newest backup is a warning (`store.backup_max_age`).
    pub backup_max_age: Duration,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.redacted_url())
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl StoreConfig {
    /// Validates the `[store]` section.
    pub fn from_section(s: StoreSection) -> Result<Self, ConfigError> {
        let mut url = if s.database_url.trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                s.data_dir.join("telbot.db").display()
            )
        } else {
            s.database_url.trim().to_string()
        };
        // A missing SQLite file is created (sqlx would only open an existing one).
        if url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(ConfigError::invalid(
                "store.database_url",
                format!("must start with sqlite:// or postgres://, got {scheme:?}"),
            ));
        };
        let migrate_url = extra_url(&s.migrate_url, "store.migrate_url", backend)?;
        let read_url = extra_url(&s.read_url, "store.read_url", backend)?;
        let sync = s.sqlite_synchronous.to_ascii_lowercase();
        if !["full", "normal", "extra"].contains(&sync.as_str()) {
            return Err(ConfigError::invalid(
                "store.sqlite_synchronous",
                format!("must be full, normal or extra, got {sync:?}"),
            ));
        }
        if s.max_connections == 0 {
            return Err(ConfigError::invalid(
                "store.max_connections",
                "must be at least 1",
            ));
        }
        if s.backup_keep == 0 {
            return Err(ConfigError::invalid(
                "store.backup_keep",
                "must be at least 1",
            ));
        }
        let backup_dir = if s.backup_dir.as_os_str().is_empty() {
            s.data_dir.join("backups")
        } else {
            s.backup_dir
        };
        Ok(StoreConfig {
            backup_dir,
            backup_keep: s.backup_keep,
            backup_max_age: s.backup_max_age,
            url: SecretString::from(url),
            migrate_url,
            read_url,
            backend,
            data_dir: s.data_dir,
            max_connections: s.max_connections,
            acquire_timeout: s.acquire_timeout,
            sqlite_synchronous: sync,
        })
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted_url(&self) -> String {
        redact_password(self.url.expose_secret())
    }

    /// Replaces every URL of this config (main, migrate, read) by its redacted form in `msg`.
    pub fn redact_in(&self, msg: &str) -> String {
        let mut out = msg.to_string();
        for u in [
            Some(&self.url),
            self.migrate_url.as_ref(),
            self.read_url.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            let raw = u.expose_secret();
            out = out.replace(raw, &redact_password(raw));
            if let Ok(parsed) = Url::parse(raw)
                && let Some(pw) = parsed.password().filter(|p| p.len() >= 3)
            {
                out = out.replace(pw, "***");
            }
        }
        out
    }
}

/// An optional second URL of `[store]`: empty is unset; otherwise the same backend as
/// database_url (a replica or a direct URL of the same database).
fn extra_url(raw: &str, key: &str, backend: Backend) -> Result<Option<SecretString>, ConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let pg = raw.starts_with("postgres://") || raw.starts_with("postgresql://");
    if backend != Backend::Postgres || !pg {
        return Err(ConfigError::invalid(
            key,
            "must be a postgres:// URL, and only beside a PostgreSQL database_url",
        ));
    }
    Ok(Some(SecretString::from(raw.to_string())))
}

fn redact_password(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(url: &str, migrate: &str, read: &str) -> StoreSection {
        StoreSection {
            database_url: url.into(),
            migrate_url: migrate.into(),
            read_url: read.into(),
            data_dir: "./data".into(),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(1),
            sqlite_synchronous: "full".into(),
            backup_dir: PathBuf::new(),
            backup_keep: 7,
            backup_max_age: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_extra_urls_are_postgres_only_and_never_shown() {
        let c = StoreConfig::from_section(section(
            "postgres://app:pooledpw@pooler:6543/db",
            "postgres://app:directpw@db:5432/db",
            "postgres://ro:replicapw@replica:5432/db",
        ))
        .unwrap();
        let msg = "cannot reach postgres://app:directpw@db:5432/db nor postgres://ro:replicapw@replica:5432/db (replicapw)";
        let shown = c.redact_in(msg);
        for pw in ["pooledpw", "directpw", "replicapw"] {
            assert!(!shown.contains(pw), "{shown}");
            assert!(!format!("{c:?}").contains(pw));
        }
        let Err(e) = StoreConfig::from_section(section("", "", "postgres://ro@replica/db")) else {
            panic!("a read replica beside SQLite is refused");
        };
        assert!(
            e.to_string().contains("DATABASE_READ_URL (store.read_url)"),
            "{e}"
        );
    }
}
