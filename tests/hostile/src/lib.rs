//! Hostile clients against the real `bot-server` binary, on 127.0.0.1 only (issue 11).
//!
//! - [`binary`]: a workspace binary next to the test executable (built when missing).
//! - [`Bot`]: bot-server as a child process against an in-process telegram-sim, with its
//!   peak RSS (`VmHWM`) and whether it is still running.
//! - [`probe_health`], [`probe_delivery`]: what a health checker and Telegram see, timed,
//!   each on a fresh connection from 127.0.0.1.
//! - [`Attack`]: bounded loops of attacking connections from other loopback addresses
//!   (127.0.0.2 and up), each behaving as one [`Behaviour`], until a deadline.
//! - [`lock`]: one attack at a time on this machine (timings mean nothing otherwise).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The webhook secret the bot under attack is started with.
pub const SECRET: &str = "hostile_secret-42";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `name` from the target dir this test was built in, built with `cargo build -p <package>
/// --bins` when missing. `cargo nextest run --workspace` (CI) builds every binary first; when
/// you run this package alone after changing bot-server, `cargo build --workspace --bins`
/// first or the suite tests the binary already there.
///
/// `TELBOT_HOSTILE_<NAME>` (e.g. `TELBOT_HOSTILE_BOT_SERVER=/tmp/old/bot-server`) runs the
/// suite against another build instead.
pub fn binary(package: &str, name: &str) -> Result<PathBuf, String> {
    let var = format!(
        "TELBOT_HOSTILE_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    if let Some(p) = std::env::var_os(var) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> → target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("no target dir above the test executable")?;
    let path = dir.join(name);
    if path.exists() {
        return Ok(path);
    }
    let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    build
        .current_dir(workspace())
        .args(["build", "-q", "-p", package, "--bins"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    if let Some(target) = dir.parent() {
        build.env("CARGO_TARGET_DIR", target);
    }
    let status = build.status().map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() || !path.exists() {
        return Err(format!(
            "cannot build {name} ({status}) into {}",
            dir.display()
        ));
    }
    Ok(path)
}

/// Holds an exclusive lock on a file in the target dir: attacks run one at a time even when
/// the test runner starts them in parallel processes.
pub fn lock() -> std::fs::File {
    let path = std::env::temp_dir().join("telbot-hostile.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("lock file {}: {e}", path.display()));
    f.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    f
}

/// bot-server as a child process; killed when dropped.
pub struct Bot {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data dir (the SQLite store) and log file.
    pub dir: tempfile::TempDir,
}

impl Bot {
    /// Starts bot-server in webhook mode against `sim` with `extra` variables, and waits
    /// until `/health` answers 200.
    pub async fn start(sim: &telegram_sim::Sim, extra: &[(&str, &str)]) -> Bot {
        let bin = binary("telbot-reference-bot", "bot-server").unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = telbot_testkit::free_port().unwrap_or_else(|e| panic!("port: {e}"));
        let log = std::fs::File::create(dir.path().join("bot.log"))
            .unwrap_or_else(|e| panic!("log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TELEGRAM_BOT_TOKEN", sim.token())
            .env("TELEGRAM_API_URL", sim.base_url())
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("PORT", port.to_string())
            .env("WEBHOOK_SECRET", SECRET)
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/telbot.db", dir.path().display()),
            )
            .env("DATA_DIR", dir.path())
            .env("TELBOT__SERVER__HOST", "127.0.0.1")
            .env("TELBOT__TELEGRAM__RATE_LIMIT", "false")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn bot-server: {e}"));
        let mut bot = Bot {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if probe_health(bot.addr).await.is_ok() {
                return bot;
            }
            assert!(bot.running(), "bot-server exited at start:\n{}", bot.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("bot-server did not answer /health in 60 s:\n{}", bot.log());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bot.log")).unwrap_or_default()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A telegram-sim for one test.
pub async fn sim() -> telegram_sim::Sim {
    telegram_sim::Sim::builder()
        .allow_http_loopback(true)
        .time_scale(0.01)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap_or_else(|e| panic!("telegram-sim: {e}"))
}

/// Sends `raw` on a fresh connection and returns the status line, within 5 s.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<String, String> {
    let work = async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        s.write_all(raw).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        while !buf.windows(2).any(|w| w == b"\r\n") {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed without an answer".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(text.lines().next().unwrap_or_default().to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
}

/// `GET /health` on a fresh connection: how long a 200 took.
pub async fn probe_health(addr: SocketAddr) -> Result<Duration, String> {
    let t = Instant::now();
    let line = exchange(
        addr,
        b"GET /health HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n",
    )
    .await?;
    if line.starts_with("HTTP/1.1 200") {
        Ok(t.elapsed())
    } else {
        Err(format!("/health answered {line:?}"))
    }
}

/// A genuine delivery (with the secret) on a fresh connection: how long the 200 took.
pub async fn probe_delivery(addr: SocketAddr, update_id: i64) -> Result<Duration, String> {
    let body = format!(
        r#"{{"update_id":{update_id},"message":{{"message_id":{update_id},"date":1700000000,"chat":{{"id":{update_id},"type":"private","first_name":"A"}},"text":"hello"}}}}"#
    );
    let raw = format!(
        "POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let t = Instant::now();
    let line = exchange(addr, raw.as_bytes()).await?;
    if line.starts_with("HTTP/1.1 200") {
        Ok(t.elapsed())
    } else {
        Err(format!("the delivery got {line:?}"))
    }
}

/// What each attacking connection does.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Sends a request line and one header line per second, never finishing the headers.
    SlowHeaders,
    /// Sends complete headers announcing 100 kB (no secret), then one body byte per second.
    SlowBody,
    /// Connects and sends nothing.
    Idle,
    /// Sends a 1 MB body without the secret as fast as it can, then holds the connection.
    LargeBody,
}

/// A running attack.
pub struct Attack {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Connections opened so far.
    pub connections: Arc<AtomicU64>,
}

/// Loopback source addresses 127.0.0.2 … 127.0.0.(1+n).
pub fn attacker_ips(n: u8) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
        .collect()
}

impl Attack {
    /// `conns` connections spread over `ips`, each reconnecting (after a 1 s pause) when the
    /// server closes it, until `until`.
    pub fn start(
        target: SocketAddr,
        ips: &[IpAddr],
        conns: usize,
        how: Behaviour,
        until: Instant,
    ) -> Attack {
        let connections = Arc::new(AtomicU64::new(0));
        let tasks = (0..conns)
            .map(|i| {
                let ip = ips[i % ips.len()];
                let count = connections.clone();
                tokio::spawn(async move {
                    let until = tokio::time::Instant::from_std(until);
                    while tokio::time::Instant::now() < until {
                        if let Ok(s) = connect_from(ip, target).await {
                            count.fetch_add(1, Ordering::Relaxed);
                            let _ = tokio::time::timeout_at(until, behave(s, how)).await;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                })
            })
            .collect();
        Attack { tasks, connections }
    }

    /// Waits for every attacking task to reach the deadline.
    pub async fn finish(self) -> u64 {
        for t in self.tasks {
            let _ = t.await;
        }
        self.connections.load(Ordering::Relaxed)
    }
}

async fn connect_from(ip: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(ip, 0))?;
    sock.connect(target).await
}

/// Plays one connection until the server closes it.
async fn behave(mut s: TcpStream, how: Behaviour) {
    let mut sink = [0u8; 1024];
    match how {
        Behaviour::SlowHeaders => {
            if s.write_all(b"GET /health HTTP/1.1\r\nHost: bot\r\n")
                .await
                .is_err()
            {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return;
                }
            }
        }
        Behaviour::SlowBody => {
            let head = "POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(b" ").await.is_err() {
                    return;
                }
            }
        }
        Behaviour::Idle => while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {},
        Behaviour::LargeBody => {
            let len = 1024 * 1024;
            let head = format!(
                "POST /webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let body = vec![b' '; len];
            if s.write_all(&body).await.is_err() {
                return;
            }
            // Hold it open until the server closes it.
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    }
}

/// The slowest of each probe during an attack, and every failure.
#[derive(Debug, Default)]
pub struct Probes {
    /// Slowest `/health`.
    pub health_max: Duration,
    /// Slowest genuine delivery.
    pub delivery_max: Duration,
    /// Probes made (of each kind).
    pub rounds: u32,
    /// Probes that failed or took 1 s or more.
    pub failures: Vec<String>,
}

/// Probes `/health` and a genuine delivery once a second from `from` until `until`.
pub async fn probe_during(
    target: SocketAddr,
    from: Instant,
    until: Instant,
    first_id: i64,
) -> Probes {
    let mut p = Probes::default();
    tokio::time::sleep_until(tokio::time::Instant::from_std(from)).await;
    let mut id = first_id;
    while Instant::now() + Duration::from_secs(1) < until {
        let next = Instant::now() + Duration::from_secs(1);
        p.rounds += 1;
        match probe_health(target).await {
            Ok(d) if d < Duration::from_secs(1) => p.health_max = p.health_max.max(d),
            Ok(d) => p.failures.push(format!("/health took {d:?}")),
            Err(e) => p.failures.push(format!("/health: {e}")),
        }
        id += 1;
        match probe_delivery(target, id).await {
            Ok(d) if d < Duration::from_secs(1) => p.delivery_max = p.delivery_max.max(d),
            Ok(d) => p.failures.push(format!("delivery took {d:?}")),
            Err(e) => p.failures.push(format!("delivery: {e}")),
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
    }
    p
}
