//! The real binaries as child processes: found next to the running executable (its target
//! profile dir, e.g. `target/debug/`), built with `cargo build -p telbot-reference-bot -p watchdog --bins`
//! in the same profile when missing. Every child is killed when its [`Proc`] is dropped.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::ChaosError;

/// Where the two daemons' executables are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `bot-server`.
    pub bot_server: PathBuf,
    /// `watchdog`.
    pub watchdog: PathBuf,
}

static BINARIES: OnceLock<Result<Binaries, String>> = OnceLock::new();

/// The profile dir of the running executable (`target/debug` for `target/debug/deps/x`).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or("the executable has no parent dir")?
        .to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().ok_or("deps has no parent")?.to_path_buf();
    }
    Ok(dir)
}

fn locate() -> Result<Binaries, String> {
    let dir = profile_dir()?;
    let found = |d: &Path| Binaries {
        bot_server: d.join("bot-server"),
        watchdog: d.join("watchdog"),
    };
    let bins = found(&dir);
    if bins.bot_server.exists() && bins.watchdog.exists() && !stale(&bins) {
        return Ok(bins);
    }
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_string();
    let target_dir = dir.parent().ok_or("the profile dir has no parent")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "telbot-chaos: bot-server/watchdog missing or older than their sources in {}; building them: cargo build -p telbot-reference-bot -p watchdog --bins --profile {}",
        dir.display(),
        if profile == "debug" { "dev" } else { &profile }
    );
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "telbot-reference-bot",
            "-p",
            "watchdog",
            "--bins",
        ])
        .args([
            "--profile",
            if profile == "debug" { "dev" } else { &profile },
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build of bot-server/watchdog failed: {status}"
        ));
    }
    if bins.bot_server.exists() && bins.watchdog.exists() {
        Ok(bins)
    } else {
        Err(format!("built, but no binaries in {}", dir.display()))
    }
}

/// The newest modification time under `path` (files and, recursively, directories).
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest(&e.path()))
        .max()
}

/// Whether a source the daemons are built from is newer than either binary (a run of
/// `cargo nextest run -p telbot-chaos` alone does not rebuild them).
fn stale(bins: &Binaries) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = [
        "bot-server/src",
        "crates/reference-bot/src",
        "watchdog/src",
        "shared/src",
        "shared/migrations",
        "crates/alerts/src",
        "config/default.toml",
        "Cargo.lock",
    ];
    let Some(src) = sources.iter().filter_map(|s| newest(&root.join(s))).max() else {
        return false;
    };
    [&bins.bot_server, &bins.watchdog].iter().any(|b| {
        std::fs::metadata(b)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < src)
    })
}

/// The binaries (located, or built when missing or stale, once per process).
pub async fn binaries() -> Result<Binaries, ChaosError> {
    if let Some(r) = BINARIES.get() {
        return r.clone().map_err(ChaosError::Setup);
    }
    let r = tokio::task::spawn_blocking(locate)
        .await
        .map_err(|e| ChaosError::Setup(format!("locating binaries: {e}")))?;
    BINARIES
        .get_or_init(|| r)
        .clone()
        .map_err(ChaosError::Setup)
}

/// One child process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    /// Where its stdout and stderr go (appended across restarts).
    pub log: PathBuf,
}

impl Proc {
    /// Starts `bin args…` with exactly `env` (plus RUST_LOG), output appended to `log`.
    pub fn spawn(
        name: &str,
        bin: &Path,
        args: &[&str],
        env: &HashMap<String, String>,
        log: &Path,
    ) -> Result<Proc, ChaosError> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| ChaosError::io("opening a log file", e))?;
        let err = out
            .try_clone()
            .map_err(|e| ChaosError::io("cloning a log file", e))?;
        // Allocator settings of the harness's own environment reach the daemons (the soak
        // compares e.g. MALLOC_ARENA_MAX); nothing else does.
        let malloc: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("MALLOC_"))
            .collect();
        let child = Command::new(bin)
            .args(args)
            .env_clear()
            .envs(malloc)
            .envs(env)
            .env(
                "RUST_LOG",
                env.get("RUST_LOG").map_or("info", String::as_str),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| ChaosError::io("spawning a daemon", e))?;
        Ok(Proc {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends a signal (`"-KILL"`, `"-TERM"`).
    pub fn signal(&self, sig: &str) -> Result<(), ChaosError> {
        let Some(pid) = self.pid() else {
            return Err(ChaosError::Setup(format!("{} is not running", self.name)));
        };
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .map_err(|e| ChaosError::io("running kill", e))?;
        if ok.success() {
            Ok(())
        } else {
            Err(ChaosError::Setup(format!(
                "kill {sig} {} failed",
                self.name
            )))
        }
    }

    /// Waits until it exits (→ its status) or `timeout` passes (→ `None`, still running).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.child.as_mut().map(Child::try_wait) {
                None => return None,
                Some(Ok(Some(st))) => {
                    self.child = None;
                    return Some(st);
                }
                Some(Ok(None)) => {}
                Some(Err(_)) => return None,
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The last `n` lines of its log, for a failure message.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
