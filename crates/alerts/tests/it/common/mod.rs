//! Test helpers: a temp store per test, a real SMTP server process (aiosmtpd), configs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::SecretString;
use telbot_alerts::AlertsConfig;
use telbot_alerts::AlertsSection;
use telbot_shared::config::{EnvMap, StoreConfig, load, section};
use telbot_shared::store::{Db, connect};

/// A store in a fresh temp dir (or PostgreSQL when TELBOT_TEST_PG_URL is set and `pg` is true).
pub(crate) async fn temp_db(dir: &Path) -> Db {
    let url = format!("sqlite://{}?mode=rwc", dir.join("telbot.db").display());
    db_at(&url).await
}

pub(crate) async fn db_at(url: &str) -> Db {
    let env: EnvMap = [("DATABASE_URL".to_string(), url.to_string())].into();
    let cfg = load(None, &env).unwrap();
    let sc = StoreConfig::from_section(section(&cfg, "store").unwrap()).unwrap();
    connect(&sc).await.unwrap()
}

/// The defaults as written, for a test to change.
pub(crate) fn section_defaults() -> AlertsSection {
    let cfg = load(None, &EnvMap::new()).unwrap();
    section(&cfg, "alerts").unwrap()
}

/// E-mail through `smtp_url` to two recipients; thresholds 2/2; retry 30 s .. 120 s.
pub(crate) fn email_config(smtp_url: &str) -> AlertsConfig {
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.dashboard_url = "https://bot.example/bot/dashboard".into();
    s.smtp_url = Some(SecretString::from(smtp_url.to_string()));
    s.email_from = "Watchdog <wd@example.com>".into();
    s.email_to = telbot_alerts::StringList::One("ops@example.com, oncall@example.com".into());
    s.send_timeout = Duration::from_secs(5);
    s.retry_base = Duration::from_secs(30);
    s.retry_max = Duration::from_secs(120);
    AlertsConfig::from_section(s).unwrap()
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running aiosmtpd; killed on drop.
pub(crate) struct SmtpSink {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
}

pub(crate) fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the SMTP tests need Python's aiosmtpd: run `pip install aiosmtpd` (python3 -c 'import aiosmtpd' failed)"
    );
}

impl SmtpSink {
    pub(crate) fn start(port: u16, out: &Path, starttls: Option<(&Path, &Path)>) -> SmtpSink {
        require_aiosmtpd();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--out"])
            .arg(out);
        if let Some((c, k)) = starttls {
            cmd.arg("--starttls").arg(c).arg(k);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "smtp_sink.py did not start");
        SmtpSink {
            child,
            port,
            out: out.to_path_buf(),
        }
    }

    /// Every message received so far.
    pub(crate) fn messages(&self) -> Vec<serde_json::Value> {
        read_messages(&self.out)
    }

    pub(crate) fn subjects(&self) -> Vec<String> {
        self.messages().iter().map(subject_of).collect()
    }

    pub(crate) fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn read_messages(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("messages.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The Subject header of a received message (unfolded; lettre may encode non-ASCII).
pub(crate) fn subject_of(m: &serde_json::Value) -> String {
    let data = m["data"]
        .as_str()
        .unwrap_or_default()
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ");
    data.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string()
}
