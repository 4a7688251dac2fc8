//! Test helpers shared by the workspace's integration tests.
//!
//! - [`free_port`]: a free port on 127.0.0.1.
//! - [`wait_until`], [`wait_until_async`]: poll an observable condition instead of sleeping
//!   for a guessed time.
//! - [`intruder`]: another process using a bot's token (deleteWebhook, then long polling),
//!   as every bot library does at start.
//! - [`tls`]: certificates made on the spot (a test CA, self-signed ones) and a TLS listener
//!   serving one.
//! - [`PgServer`]: a real PostgreSQL server of its own for one test, on loopback, on a free
//!   port, stopped when dropped. It needs Debian's `postgresql` package (`.ci/run` installs
//!   it); when the binaries are missing, [`PgServer::start`] fails with a message saying so —
//!   tests never skip silently.
//! - [`DelayRelay`] (`delay_relay`): a TCP relay adding a fixed delay each way, for a server "on another host"
//!   (the fleet benchmark's PostgreSQL a round trip away).
//! - [`PgBouncer`]: a pgbouncer in front of a [`PgServer`] (Debian's `pgbouncer` package), in
//!   the pooling mode the test asks for; the fleet tests use session mode (sqlx's named
//!   prepared statements do not survive pgbouncer 1.18's transaction mode).

mod delay_relay;
pub mod intruder;
mod pgbouncer;
pub mod tls;

pub use delay_relay::DelayRelay;
pub use pgbouncer::PgBouncer;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls `f` every 20 ms until it holds or `timeout` passes; returns whether it held (checked
/// once more at the end).
pub async fn wait_until<F: Fn() -> bool>(timeout: Duration, f: F) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// [`wait_until`] for a condition that has to be awaited (an HTTP call, a query); polled every
/// 50 ms.
pub async fn wait_until_async<F, Fut>(timeout: Duration, f: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f().await
}

/// A PostgreSQL server owned by one test.
#[derive(Debug)]
pub struct PgServer {
    child: Child,
    port: u16,
    bin: PathBuf,
    root: bool,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(d) = std::env::var("TELBOT_PG_BIN") {
        return Ok(PathBuf::from(d));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (no /usr/lib/postgresql): run `apt-get install postgresql` (.ci/run does)".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no PostgreSQL binaries under /usr/lib/postgresql/*/bin".to_string())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Runs `prog` as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn command(prog: &Path, root: bool) -> Command {
    if root {
        // setpriv execs in place (runuser would fork), so the child's pid is PostgreSQL's.
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(prog);
        c
    } else {
        Command::new(prog)
    }
}

impl PgServer {
    /// Creates a cluster in a temp dir and starts it on a free loopback port.
    pub fn start() -> Result<PgServer, String> {
        let bin = bin_dir()?;
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("telbot-pg")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("cannot chown the PostgreSQL data dir to postgres".into());
            }
        }
        let out = command(&bin.join("initdb"), root)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = free_port().map_err(|e| e.to_string())?;
        let child = spawn(&bin, root, dir.path(), port)?;
        let server = PgServer {
            child,
            port,
            bin,
            root,
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Starts the server again after [`PgServer::kill`], same data, same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.child = spawn(&self.bin, self.root, self._dir.path(), self.port)?;
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<(), String> {
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("PostgreSQL did not start within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Accepting TCP comes a moment before accepting logins.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_via(self.port)
    }

    /// [`PgServer::url`] with another port: the same server through a relay or proxy on
    /// loopback that forwards to it (e.g. a [`DelayRelay`]).
    pub fn url_via(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// `postgres://postgres@127.0.0.1:PORT/<db>`, another database of this server.
    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates the database `db` (for a test needing a second one, e.g. a read replica's).
    pub fn create_database(&self, db: &str) -> Result<(), String> {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                db,
            ])
            .output()
            .map_err(|e| format!("createdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "createdb {db} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (a store outage in a test); it cannot be restarted.
    pub fn kill(&mut self) {
        // SIGQUIT: PostgreSQL's immediate shutdown, which also ends its backends.
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &Path, root: bool, dir: &Path, port: u16) -> Result<Child, String> {
    command(&bin.join("postgres"), root)
        .arg("-D")
        .arg(dir.join("data"))
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ])
        .args(["-c", "max_connections=200"])
        .arg("-k")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("postgres: {e}"))
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.kill();
    }
}
