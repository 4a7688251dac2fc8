//! `watchdog digest` (issue 16, part 4) through a real SMTP server process (aiosmtpd, the
//! alerts crate's `smtp_sink.py`): one e-mail, text and HTML, with the ops notes' daily
//! checklist answered from what the watchdog's runs kept, and no secret in it.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{HealthMode, World};

struct Sink(std::process::Child, std::path::PathBuf);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Sink {
    fn start(out: &Path) -> (Sink, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/alerts/tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--out"])
            .arg(out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "smtp_sink.py did not start");
        (Sink(child, out.to_path_buf()), port)
    }

    /// (subject, whole message) of every e-mail received.
    fn mails(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.1.join("messages.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let data = v["data"].as_str().unwrap().replace("=\r\n", "");
                let subject = data
                    .replace("\r\n ", " ")
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(String::from))
                    .unwrap_or_default();
                (subject, data)
            })
            .collect()
    }
}

use common::run_binary as run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_answers_the_daily_checklist_in_one_email() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (sink, port) = Sink::start(&dir.path().join("mail"));
    let mut env = w.env.clone();
    env.insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{port}"));
    env.insert("ALERT_EMAIL_FROM".into(), "wd@example.com".into());
    env.insert("ALERT_EMAIL_TO".into(), "ops@example.com".into());
    for _ in 0..2 {
        let (code, out) = run(&env, &["check"]).await;
        assert_eq!(code, 0, "{out}");
    }
    w.bot.set_health(HealthMode::Down);
    for _ in 0..2 {
        run(&env, &["check"]).await;
    }
    // --no-send prints and sends nothing.
    let (code, out) = run(&env, &["digest", "--no-send"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[DIGEST] telbot: daily check"), "{out}");
    let digests = |s: &Sink| {
        s.mails()
            .into_iter()
            .filter(|(subj, _)| subj.starts_with("[DIGEST]"))
            .collect::<Vec<_>>()
    };
    assert!(digests(&sink).is_empty());

    let (code, out) = run(&env, &["digest"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("email: sent"), "{out}");
    let got = digests(&sink);
    assert_eq!(got.len(), 1, "{got:?}");
    let (subject, mail) = &got[0];
    assert!(
        subject.starts_with("[DIGEST] telbot: daily check, ") && subject.contains("need a look"),
        "{subject}"
    );
    assert!(
        mail.contains("multipart/alternative") && mail.contains("text/html"),
        "{mail}"
    );
    for line in [
        "[ok  ] Pending updates at Telegram: 0 now (highest 0) (target 0)",
        "/health response time: ",
        "(target < 5 s)",
        "[ok  ] Parked updates: 0 now (highest 0) (target 0)",
        "[LOOK] Open incidents (dashboard alerts): bot-down (critical, not acknowledged)",
        "Memory (RSS): 20.0 MiB now",
        "bot-down: critical, 2 failing run(s)",
        "restart",
        "The watchdog's runs in the last 24 h: 4 (2 ok, 0 warning, 2 critical)",
    ] {
        assert!(mail.contains(line), "{line:?} missing in\n{mail}");
    }
    for secret in [common::SECRET, common::RENDER_KEY] {
        assert!(!mail.contains(secret), "{secret} in the digest");
    }
    let (code, out) = run(&env, &["digest", "--json"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"runs\":[2,0,2]"), "{out}");
}

/// `watchdog report --week` (issue 27 part 7): the ops notes' weekly checklist in one e-mail —
/// the week's incidents with how long they lasted, the bot's failed updates and the
/// watchdog's findings grouped by message, the figures against their thresholds (with a
/// note where one is always crossed), the last drill, and the configuration backup with the
/// secrets named, never written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_report_answers_the_weekly_checklist_in_one_email() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (sink, port) = Sink::start(&dir.path().join("mail"));
    let mut env = w.env.clone();
    env.insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{port}"));
    env.insert("ALERT_EMAIL_FROM".into(), "wd@example.com".into());
    env.insert("ALERT_EMAIL_TO".into(), "ops@example.com".into());
    let (code, out) = run(&env, &["check"]).await;
    assert_eq!(code, 0, "{out}");
    let (_, out) = run(&env, &["drill"]).await;
    assert!(out.contains("drill passed"), "{out}");
    w.bot.set_health(HealthMode::Down);
    for _ in 0..2 {
        run(&env, &["check"]).await;
    }
    // The bot's failed updates, as bot-server leaves them in the shared inbox.
    let db = common::watchdog(&env, std::sync::Arc::new(watchdog::SystemClock))
        .await
        .ctx()
        .store
        .db()
        .clone();
    let now = telbot_shared::unix_now();
    for (id, error) in [
        (101, "Bad Request: chat not found (chat 4711)"),
        (102, "Bad Request: chat not found (chat 815)"),
        (103, "Forbidden: bot was blocked by the user"),
        (-5, "a canary is never a user's failure"),
    ] {
        sqlx::query(
            "INSERT INTO inbox (update_id, kind, queue_key, payload, status, attempts, last_error, received_at, done_at) \
             VALUES ($1, 'message', 'c1', '{}', 2, 3, $2, $3, $3)",
        )
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    assert_eq!(run(&env, &["report"]).await.0, 64, "the report is named");
    let (code, out) = run(&env, &["report", "--week", "--no-send"]).await;
    assert_eq!(code, 0, "{out}");
    let weekly = |s: &Sink| {
        s.mails()
            .into_iter()
            .filter(|(subj, _)| subj.starts_with("[WEEKLY]"))
            .collect::<Vec<_>>()
    };
    assert!(weekly(&sink).is_empty(), "--no-send sends nothing");
    let (code, out) = run(&env, &["report", "--week"]).await;
    assert_eq!(code, 0, "{out}");
    let got = weekly(&sink);
    assert_eq!(got.len(), 1, "{got:?}");
    let (subject, mail) = &got[0];
    assert!(
        subject.starts_with("[WEEKLY] telbot: weekly check"),
        "{subject}"
    );
    let mail = mail
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .replace("=C3=97", "×");
    for line in [
        "Incidents this week:",
        "bot-down: critical, 2 failing run(s), from ",
        "Most frequent errors of the bot's failed updates:",
        "2× [message] Bad Request: chat not found (chat N)",
        "1× [message] Forbidden: bot was blocked by the user",
        "Most frequent problems the watchdog found:",
        "[bot-down]",
        "Figures against their thresholds:",
        "/health response time: lowest",
        "Last recovery drill: ",
        "Configuration backup",
        "TELEGRAM_BOT_TOKEN",
        "WEBHOOK_SECRET",
        "[watchdog.schedule]",
    ] {
        assert!(mail.contains(line), "{line:?} missing in\n{mail}");
    }
    assert!(
        !mail.contains("canary is never"),
        "canaries are not users' failures"
    );
    assert!(!mail.contains("no drill on record"), "{mail}");
    for secret in [
        common::SECRET,
        common::RENDER_KEY,
        env["TELEGRAM_BOT_TOKEN"].as_str(),
    ] {
        assert!(!mail.contains(secret), "{secret} in the weekly report");
    }
}
