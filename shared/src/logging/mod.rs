//! Tracing set-up for both binaries: readable lines on stderr, JSON with `LOG_FORMAT=json`,
//! level from `RUST_LOG` (default `info`); with `log.dir` set, the same lines in a daily file
//! as well ([`file`]). Both outputs pass one [`Redactor`] holding the secrets of the
//! configuration ([`secrets_in`]), a backstop behind the redaction each caller does.
//!
//! A daemon calls [`init_for`] first thing and keeps the returned [`LogGuard`] until it exits:
//! dropping it flushes the file's last lines.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{ConfigError, EnvMap};
use crate::redact::Redactor;

pub mod file;
mod redacting;
mod secrets;

pub use redacting::Redacting;
pub use secrets::secrets_in;

/// The `[log]` section as written.
#[derive(Debug, Clone, Deserialize)]
pub struct LogSection {
    /// Where the log files go; empty: no file.
    #[serde(default)]
    pub dir: String,
    /// Files kept per daemon, today's included.
    pub keep_files: u32,
}

/// Validated log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The log directory; `None`: stderr only.
    pub dir: Option<PathBuf>,
    /// Files kept per daemon (1..=3650).
    pub keep_files: usize,
    /// JSON lines instead of text (`LOG_FORMAT=json`), on stderr and in the file.
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            dir: None,
            keep_files: 7,
            json: false,
        }
    }
}

impl LogSettings {
    /// Reads `[log]` from a loaded config and `LOG_FORMAT` from `env`.
    pub fn from_config(cfg: &config::Config, env: &EnvMap) -> Result<Self, ConfigError> {
        let s: LogSection = crate::config::section(cfg, "log")?;
        if !(1..=3650).contains(&s.keep_files) {
            return Err(ConfigError::invalid("log.keep_files", "must be 1 to 3650"));
        }
        let dir = match s.dir.trim() {
            "" => None,
            d => Some(PathBuf::from(d)),
        };
        Ok(LogSettings {
            dir,
            keep_files: s.keep_files as usize,
            json: is_json(env.get("LOG_FORMAT").map(String::as_str)),
        })
    }
}

/// Why logging could not be set up; the daemon exits 78 with it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A `[log]` value is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The log directory cannot be created or written.
    #[error("config: {key}: cannot write log files in {path}: {problem}", path = .path.display())]
    Dir {
        /// `TELBOT__LOG__DIR (log.dir)`.
        key: String,
        /// The directory as configured.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

/// Keeps the file's writer thread alive; dropping it flushes the lines still queued. Hold it
/// in `main` until the process exits (`std::process::exit` skips destructors: drop it first).
#[must_use = "dropping the guard stops the log file's writer"]
pub struct LogGuard {
    worker: Option<tracing_appender::non_blocking::WorkerGuard>,
    link: Option<PathBuf>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field("file", &self.link)
            .finish()
    }
}

impl LogGuard {
    /// `<log.dir>/<name>.log`, the link to today's file, when there is a file.
    pub fn file(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// Flushes the queued lines and stops the writer (as dropping does).
    pub fn finish(mut self) {
        drop(self.worker.take());
    }
}

fn is_json(format: Option<&str>) -> bool {
    format.is_some_and(|f| f.eq_ignore_ascii_case("json"))
}

type Base = tracing_subscriber::layer::Layered<EnvFilter, Registry>;
type Boxed = Box<dyn Layer<Base> + Send + Sync>;

/// A formatting layer; `ansi: None` keeps tracing-subscriber's choice (colours unless
/// `NO_COLOR`), as stderr always had.
fn fmt_layer<W>(writer: W, json: bool, ansi: Option<bool>) -> Boxed
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let mut l = tracing_subscriber::fmt::layer().with_writer(writer);
    if let Some(a) = ansi {
        l = l.with_ansi(a);
    }
    if json {
        l.json().flatten_event(true).boxed()
    } else {
        l.boxed()
    }
}

/// The subscriber [`install`] sets, not installed (tests run it with
/// `tracing::subscriber::with_default`). `name` names the file: `bot`, `watchdog`.
pub fn subscriber(
    s: &LogSettings,
    name: &str,
    redactor: Redactor,
) -> Result<(impl tracing::Subscriber + Send + Sync + 'static, LogGuard), LogError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let mut layers: Vec<Boxed> = vec![fmt_layer(
        Redacting::new(std::io::stderr, redactor.clone()),
        s.json,
        None,
    )];
    let mut guard = LogGuard {
        worker: None,
        link: None,
    };
    if let Some(dir) = &s.dir {
        let opened = file::open(dir, name, s.keep_files)?;
        layers.push(fmt_layer(
            Redacting::new(opened.writer, redactor),
            s.json,
            Some(false),
        ));
        guard.worker = Some(opened.guard);
        guard.link = Some(opened.link);
    }
    let sub = Registry::default().with(filter).with(layers);
    Ok((sub, guard))
}

/// Installs the subscriber for these settings (a second call is ignored, as before) and says
/// where the file is.
pub fn install(s: &LogSettings, name: &str, redactor: Redactor) -> Result<LogGuard, LogError> {
    let (sub, guard) = subscriber(s, name, redactor)?;
    let _ = sub.try_init();
    if let (Some(dir), Some(link)) = (&s.dir, guard.file()) {
        tracing::info!(file = %link.display(), keep_files = s.keep_files, "logging to a file as well");
        if let Some(mode) = file::loose_mode_of(dir) {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "the log directory is open to other users; the files are 0600, but consider chmod 700");
        }
    }
    Ok(guard)
}

/// What a daemon's `main` calls before anything else: reads `[log]` (and the secrets to mask)
/// from the same layered config the daemon loads (`file` is `--config`), and installs the
/// subscriber. A config that does not load is the daemon's to report: logging then goes to
/// stderr only, masking the secrets found in the environment.
pub fn init_for(file: Option<&Path>, env: &EnvMap, name: &str) -> Result<LogGuard, LogError> {
    match crate::config::load(file, env) {
        Ok(cfg) => {
            let s = LogSettings::from_config(&cfg, env)?;
            install(&s, name, Redactor::new(secrets_in(Some(&cfg), env)))
        }
        Err(_) => {
            let s = LogSettings {
                json: is_json(env.get("LOG_FORMAT").map(String::as_str)),
                ..LogSettings::default()
            };
            install(&s, name, Redactor::new(secrets_in(None, env)))
        }
    }
}

/// Installs the stderr subscriber with no file and no secrets (hosts, benches, tests).
/// Calling it twice is harmless (the second call is ignored).
pub fn init(log_format: Option<&str>) {
    let s = LogSettings {
        json: is_json(log_format),
        ..LogSettings::default()
    };
    let _ = install(&s, "telbot", Redactor::new(Vec::<SecretString>::new()));
}

/// For a program that hosts telbot as a library: installs the subscriber [`init`] does
/// (`LOG_FORMAT` and `RUST_LOG` from the environment, and `log` records of the program and
/// its crates through tracing-log) unless the program installed one first. A program that
/// installed a `log` logger (env_logger, pretty_env_logger) keeps it, and telbot's events
/// reach it as `log` records (tracing's `log` feature). Returns whether it installed one.
pub fn init_unless_set() -> bool {
    if tracing::dispatcher::has_been_set() {
        return false;
    }
    init(std::env::var("LOG_FORMAT").ok().as_deref());
    tracing::dispatcher::has_been_set()
}
