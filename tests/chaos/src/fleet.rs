//! Several bot-server processes on one PostgreSQL behind a real load balancer: haproxy (from
//! Debian), round-robin, health-checked on `/ready`, listening on the stack's bot port, so
//! telegram-sim's deliveries (through the webhook proxy) and the watchdog's `/health` go
//! through it like a cloud's balancer.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::ChaosError;
use crate::Variant;
use crate::procs::Proc;
use crate::stack::{Stack, StackOpts, StoreKind};

/// The inbox lease the fleet's instances run with (a kill -9's claims come back after it).
pub const CLAIM_LEASE: Duration = Duration::from_secs(3);
/// How long an instance keeps serving after SIGTERM while `/ready` says 503.
pub const DRAIN_DELAY: Duration = Duration::from_millis(1500);

/// A running fleet. Dropping it kills everything.
pub struct Fleet {
    /// The stack (sim, proxies, SMTP, PostgreSQL, watchdog); its `bot` stays empty.
    pub stack: Stack,
    /// The instances, while they run.
    pub bots: Vec<Option<Proc>>,
    /// Each instance's own port.
    pub ports: Vec<u16>,
    /// `watchdog run` daemons on the same store, while they run.
    pub watchdogs: Vec<Option<Proc>>,
    haproxy: Proc,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for b in self.bots.iter_mut().chain(self.watchdogs.iter_mut()) {
            b.take();
        }
        self.haproxy.kill();
    }
}

/// The haproxy configuration: `listen` on `port`, the instances round-robin, checked on
/// `/ready` every 200 ms (one failure takes an instance out, two passes put it back); a request
/// whose connection fails, or that an instance answers 503 or not at all, is tried on another
/// (a webhook POST is idempotent: the inbox dedups by update_id).
pub fn haproxy_config(port: u16, backends: &[u16], check: &str) -> String {
    let mut c = format!(
        "global\n  maxconn 4096\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response 503\n\
         frontend telbot\n  bind 127.0.0.1:{port}\n  default_backend bots\n\
         backend bots\n  balance roundrobin\n  option httpchk GET {check}\n\
         \x20 http-check expect status 200\n  default-server inter 200ms fall 1 rise 2\n"
    );
    for (i, p) in backends.iter().enumerate() {
        c.push_str(&format!("  server bot{i} 127.0.0.1:{p} check\n"));
    }
    c
}

impl Fleet {
    /// The stack on PostgreSQL, haproxy on its bot port, and `n` instances started.
    pub async fn start(n: usize) -> Result<Fleet, ChaosError> {
        Fleet::start_on(n, StoreKind::Postgres).await
    }

    /// [`Fleet::start`] on the given store (SQLite carries one instance).
    pub async fn start_on(n: usize, store: StoreKind) -> Result<Fleet, ChaosError> {
        let opts = StackOpts {
            store,
            smtp_open: true,
            polling: false,
            watchdog_net: false,
            backup: false,
            reply_in_answer: false,
        };
        let mut stack = Stack::new(Variant::Short, &opts).await?;
        // Another build (FLEET_BOT_SERVER) may predate these keys, which a build refuses
        // when it does not know them.
        if std::env::var_os("FLEET_BOT_SERVER").is_none() {
            stack.env.insert(
                "TELBOT__INBOX__CLAIM_LEASE".into(),
                format!("{}ms", CLAIM_LEASE.as_millis()),
            );
            stack.env.insert(
                "TELBOT__SERVER__DRAIN_DELAY".into(),
                format!("{}ms", DRAIN_DELAY.as_millis()),
            );
        }
        // The benchmark runs the daemons with less logging (FLEET_RUST_LOG=warn).
        if let Ok(level) = std::env::var("FLEET_RUST_LOG") {
            stack.env.insert("RUST_LOG".into(), level);
        }
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push(telbot_testkit::free_port().map_err(|e| ChaosError::io("free port", e))?);
        }
        let cfg = stack.dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_config(stack.bot_port, &ports, check_path()))
            .map_err(|e| ChaosError::io("writing haproxy.cfg", e))?;
        let haproxy = spawn_haproxy(&cfg, &stack.dir.path().join("haproxy.log"))?;
        let mut fleet = Fleet {
            stack,
            bots: (0..n).map(|_| None).collect(),
            ports,
            watchdogs: Vec::new(),
            haproxy,
        };
        for i in 0..n {
            fleet.start_instance(i).await?;
        }
        Ok(fleet)
    }

    /// Instance `i`'s base URL (not through the balancer).
    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Starts instance `i` and waits (≤ 30 s) until its `/ready` is 200.
    pub async fn start_instance(&mut self, i: usize) -> Result<(), ChaosError> {
        let mut env = self.stack.env.clone();
        env.insert("PORT".into(), self.ports[i].to_string());
        let data = self.stack.dir.path().join(format!("bot{i}"));
        std::fs::create_dir_all(&data).map_err(|e| ChaosError::io("data dir", e))?;
        env.insert("DATA_DIR".into(), data.display().to_string());
        let log = self.stack.dir.path().join(format!("bot-server-{i}.log"));
        // Another build of bot-server (e.g. an older commit, for a before/after figure).
        let bin = std::env::var_os("FLEET_BOT_SERVER")
            .map_or_else(|| self.stack.bins.bot_server.clone(), Into::into);
        self.bots[i] = Some(Proc::spawn(
            &format!("bot-server-{i}"),
            &bin,
            &[],
            &env,
            &log,
        )?);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if self.ready(i).await == Some(true) {
                return Ok(());
            }
            if let Some(p) = self.bots[i].as_mut()
                && let Some(st) = p.wait_exit(Duration::ZERO).await
            {
                return Err(ChaosError::Setup(format!(
                    "bot-server-{i} exited at start ({st}): {}",
                    p.log_tail(20)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ChaosError::Setup(format!(
            "bot-server-{i} was not ready within 30 s"
        )))
    }

    /// Instance `i`'s `/ready`: Some(true) 200, Some(false) 503, None no answer.
    pub async fn ready(&self, i: usize) -> Option<bool> {
        let r = self
            .stack
            .http()
            .get(format!("{}{}", self.url(i), check_path()))
            .send()
            .await
            .ok()?;
        Some(r.status().is_success())
    }

    /// Instance `i`'s `/health` JSON.
    pub async fn health(&self, i: usize) -> Option<serde_json::Value> {
        let r = self
            .stack
            .http()
            .get(format!("{}/health", self.url(i)))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    /// kill -9 of instance `i`.
    pub async fn kill_instance(&mut self, i: usize) -> Result<(), ChaosError> {
        if let Some(mut p) = self.bots[i].take() {
            p.signal("-KILL")?;
            let _ = p.wait_exit(Duration::from_secs(10)).await;
        }
        Ok(())
    }

    /// SIGTERM to instance `i`; returns whether its `/ready` said 503 while it drained, once
    /// it exited (≤ 40 s).
    pub async fn drain_instance(&mut self, i: usize) -> Result<bool, ChaosError> {
        let Some(mut p) = self.bots[i].take() else {
            return Ok(false);
        };
        p.signal("-TERM")?;
        let mut saw_503 = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        loop {
            if p.wait_exit(Duration::ZERO).await.is_some() {
                return Ok(saw_503);
            }
            if tokio::time::Instant::now() >= deadline {
                p.kill();
                return Err(ChaosError::Setup(format!(
                    "bot-server-{i} did not exit within 40 s of SIGTERM"
                )));
            }
            saw_503 |= self.ready(i).await == Some(false);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `n` more `watchdog run` daemons on the fleet's store, at once.
    pub fn start_watchdogs(&mut self, n: usize) -> Result<(), ChaosError> {
        for _ in 0..n {
            let j = self.watchdogs.len();
            let log = self.stack.dir.path().join(format!("watchdog-{j}.log"));
            self.watchdogs.push(Some(Proc::spawn(
                &format!("watchdog-{j}"),
                &self.stack.bins.watchdog,
                &["run"],
                &self.stack.env,
                &log,
            )?));
        }
        Ok(())
    }

    /// kill -9 of the watchdog whose pid is `pid`; false when none has it.
    pub async fn kill_watchdog_pid(&mut self, pid: u32) -> Result<bool, ChaosError> {
        for w in &mut self.watchdogs {
            if w.as_ref().and_then(Proc::pid) == Some(pid) {
                if let Some(mut p) = w.take() {
                    p.signal("-KILL")?;
                    let _ = p.wait_exit(Duration::from_secs(10)).await;
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every instance's log tail and haproxy's.
    pub fn log_tails(&self, n: usize) -> String {
        let mut out = String::new();
        let names: Vec<String> = (0..self.ports.len())
            .map(|i| format!("bot-server-{i}.log"))
            .chain((0..self.watchdogs.len()).map(|j| format!("watchdog-{j}.log")))
            .chain(["haproxy.log".to_string()])
            .collect();
        for name in names {
            let text =
                std::fs::read_to_string(self.stack.dir.path().join(&name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- {name} (last {n}) ---\n{}\n",
                lines[lines.len().saturating_sub(n)..].join("\n")
            ));
        }
        out
    }
}

/// What haproxy and the harness ask an instance: `/ready`; `/health` for another build
/// (FLEET_BOT_SERVER), which may predate `/ready`.
fn check_path() -> &'static str {
    if std::env::var_os("FLEET_BOT_SERVER").is_some() {
        "/health"
    } else {
        "/ready"
    }
}

/// haproxy in the foreground (`-db`), its output to `log`.
fn spawn_haproxy(cfg: &Path, log: &Path) -> Result<Proc, ChaosError> {
    let bin = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or_else(|| {
            ChaosError::Setup(
                "haproxy is not installed (apt-get install haproxy; .ci/run does)".into(),
            )
        })?;
    let cfg = cfg.display().to_string();
    Proc::spawn("haproxy", bin, &["-db", "-f", &cfg], &HashMap::new(), log)
}
