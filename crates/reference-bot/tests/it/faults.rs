//! The real binary on a SQLite volume that fills up: every update answered 200 is stored and
//! answered (also after a kill -9 and a restart), and once space is back the store heals by
//! itself — webhook calls return to 200 and an outside writer gets the database.
//!
//! Needs `mount -t tmpfs` (root or CAP_SYS_ADMIN): without it the test fails, saying so.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use sqlx::{Connection, Row};

/// A small tmpfs, unmounted when dropped (also when the test panics).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Tmpfs { dir },
            Ok(o) => panic!(
                "this test needs `mount -t tmpfs` (run it as root or with CAP_SYS_ADMIN): {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("this test needs the `mount` command: {e}"),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The bot process, killed when dropped; its log goes to a file off the tmpfs.
struct Bot {
    child: Child,
    log: PathBuf,
}

impl Bot {
    fn spawn(env: &HashMap<String, String>, log: &Path) -> Bot {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bot-server"))
            .env_clear()
            .envs(env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Bot {
            child,
            log: log.to_path_buf(),
        }
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn update(id: i64, pad: usize) -> String {
    // Distinct chat per update; a long text so each insert needs fresh pages on disk.
    let text = format!("/start {}", "x".repeat(pad));
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": id, "type": "private", "first_name": "A"},
            "from": {"id": id, "is_bot": false, "first_name": "A"},
            "text": text,
            "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]
        }
    })
    .to_string()
}

async fn post(http: &reqwest::Client, port: u16, body: String) -> u16 {
    match http
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn wait_health(port: u16, bot: &Bot) {
    let url = format!("http://127.0.0.1:{port}/health");
    for _ in 0..500 {
        if reqwest::get(&url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("bot-server did not answer /health: {}", bot.log_tail());
}

/// Writes `path` until the volume is full, a little at a time (traffic goes on meanwhile).
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = f.sync_all();
}

/// `status` of every given update_id as an outside reader sees it (missing: not stored).
async fn statuses(url: &str, ids: &[i64]) -> BTreeMap<i64, Option<i64>> {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut out = BTreeMap::new();
    for id in ids {
        let row = sqlx::query("SELECT status FROM inbox WHERE update_id = $1")
            .bind(*id)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        out.insert(*id, row.map(|r| r.get::<i64, _>(0)));
    }
    let _ = conn.close().await;
    out
}

/// Every acknowledged update is stored and done, and its chat got a reply.
async fn all_answered(url: &str, sim: &telegram_sim::Sim, acked: &[i64]) -> Result<(), String> {
    let st = statuses(url, acked).await;
    let missing: Vec<_> = st.iter().filter(|(_, s)| s.is_none()).collect();
    if !missing.is_empty() {
        return Err(format!("acknowledged but not stored: {missing:?}"));
    }
    let not_done: Vec<_> = st.iter().filter(|(_, s)| **s != Some(1)).collect();
    let replies = replies_per_chat(sim);
    let unanswered: Vec<_> = acked
        .iter()
        .filter(|id| !replies.contains_key(id))
        .collect();
    if !not_done.is_empty() || !unanswered.is_empty() {
        return Err(format!("not done: {not_done:?}; no reply: {unanswered:?}"));
    }
    Ok(())
}

async fn eventually_all_answered(url: &str, sim: &telegram_sim::Sim, acked: &[i64], bot: &Bot) {
    let mut last = Ok(());
    for _ in 0..150 {
        last = all_answered(url, sim, acked).await;
        if last.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{last:?}\n{}", bot.log_tail());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_volume_loses_no_acknowledged_update_and_the_store_heals_by_itself() {
    sqlx::any::install_default_drivers();
    let vol = Tmpfs::mount("16m");
    let logs = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let url = format!("sqlite://{}/telbot.db?mode=rwc", vol.dir.display());
    let db = TestDb {
        url: url.clone(),
        dir: tempfile::tempdir().unwrap(),
        pg: None,
    };
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    e.insert("DATA_DIR".into(), vol.dir.display().to_string());
    let mut bot = Bot::spawn(&e, &logs.path().join("bot.log"));
    wait_health(port, &bot).await;
    let http = reqwest::Client::new();
    let mut acked: Vec<i64> = Vec::new();
    let mut refused: Vec<i64> = Vec::new();
    let mut next = 1_000i64;

    // Normal traffic first.
    for _ in 0..10 {
        assert_eq!(post(&http, port, update(next, 2000)).await, 200);
        acked.push(next);
        next += 1;
    }

    // The volume fills up while updates keep coming, 8 at a time, and stays full a while.
    let filler = vol.dir.join("filler");
    let filling = {
        let filler = filler.clone();
        tokio::task::spawn_blocking(move || fill(&filler))
    };
    // SQLite reuses its WAL after a checkpoint, so a full volume shows only once the WAL must
    // grow: keep going until a good number of inserts were refused.
    let mut rounds_after_full = 0;
    while rounds_after_full < 300 && refused.len() < 40 {
        if filling.is_finished() {
            rounds_after_full += 1;
        }
        let ids: Vec<i64> = (next..next + 8).collect();
        next += 8;
        let codes = futures_join(&http, port, &ids, 8000).await;
        for (id, code) in ids.iter().zip(codes) {
            if code == 200 {
                acked.push(*id);
            } else {
                refused.push(*id);
            }
        }
    }
    filling.await.unwrap();
    eprintln!(
        "while full: {} acknowledged, {} refused",
        acked.len() - 10,
        refused.len()
    );
    assert!(
        !refused.is_empty(),
        "the full volume refused no insert: the test did not exercise the fault\n{}",
        bot.log_tail()
    );
    let h: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        h["checks"]["store"]["status"], "ok",
        "/health must not say the store is fine while inserts fail: {h}"
    );

    // Space comes back; nobody touches the bot. Telegram redelivers what got 503.
    std::fs::remove_file(&filler).unwrap();
    let healed = tokio::time::Instant::now();
    let mut consecutive = 0;
    while consecutive < 20 {
        assert!(
            healed.elapsed() < Duration::from_secs(30),
            "webhook calls did not return to 200 within 30 s of the space coming back\n{}",
            bot.log_tail()
        );
        let id = refused.pop().unwrap_or_else(|| {
            next += 1;
            next
        });
        if post(&http, port, update(id, 2000)).await == 200 {
            acked.push(id);
            consecutive += 1;
        } else {
            refused.push(id);
            consecutive = 0;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for id in std::mem::take(&mut refused) {
        assert_eq!(
            post(&http, port, update(id, 2000)).await,
            200,
            "redelivery of {id}"
        );
        acked.push(id);
    }

    // An outside writer gets the database: no connection is left holding the write lock.
    let mut outside = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("PRAGMA busy_timeout = 3000")
        .execute(&mut outside)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut outside)
        .await
        .unwrap_or_else(|e| panic!("an outside BEGIN IMMEDIATE was refused: {e}"));
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut outside)
        .await
        .unwrap();
    let _ = outside.close().await;

    eventually_all_answered(&url, &sim, &acked, &bot).await;
    let h: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["checks"]["store"]["status"], "ok", "{h}");

    // A kill -9 and a restart: everything acknowledged is still there.
    bot.kill9();
    let mut bot = Bot::spawn(&e, &logs.path().join("bot2.log"));
    wait_health(port, &bot).await;
    eventually_all_answered(&url, &sim, &acked, &bot).await;
    eprintln!(
        "full volume: {} acknowledged, all stored and answered",
        acked.len()
    );
    bot.kill9();
    drop(bot);
    drop(vol);
}

/// Posts these updates at once; their status codes in order.
async fn futures_join(http: &reqwest::Client, port: u16, ids: &[i64], pad: usize) -> Vec<u16> {
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let http = http.clone();
            let body = update(*id, pad);
            tokio::spawn(async move { post(&http, port, body).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
