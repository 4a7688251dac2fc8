//! Issue 27, part 10, through the `bot-server` binary: with `TELBOT__LOG__DIR` the log file
//! (`<dir>/bot.log`, the link to today's private file) has every line up to the last one
//! written before a SIGTERM exit, and no secret, even at debug level with failing calls.

use crate::common;
use crate::process::{signal, spawn, wait_exit, wait_health};

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

/// `text` without ANSI colour sequences (stderr is coloured, the file is not).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_has_the_last_line_before_exit_and_no_secret() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let mut e = env(&sim, &db, port);
    let token = "123456789:AAH-secretPartOfTheToken_0123456789ab";
    e.insert("TELEGRAM_BOT_TOKEN".into(), token.into());
    e.insert(
        "TELEGRAM_API_URL".into(),
        format!("http://127.0.0.1:{}", telbot_testkit::free_port().unwrap()),
    );
    e.insert("RUST_LOG".into(), "debug".into());
    e.insert("TELBOT__WEBHOOK__SET_ATTEMPTS".into(), "2".into());
    e.insert("TELBOT__LOG__DIR".into(), dir.display().to_string());
    let child = spawn(&e);
    wait_health(port).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&child, "-TERM");
    let (code, stderr) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{stderr}");
    let link = dir.join("bot.log");
    let file = std::fs::read_to_string(&link).unwrap();
    assert!(file.contains("setWebhook failed"), "{file}");
    let last = plain(stderr.lines().last().unwrap());
    // The timestamp differs by microseconds at most; compare what follows it.
    let tail = last.split_once(' ').map(|(_, t)| t.trim()).unwrap_or(&last);
    assert!(
        file.lines().last().unwrap().ends_with(tail),
        "the last line {tail:?} is missing from the file:\n{file}"
    );
    for secret in [token, "secretPartOfTheToken", SECRET, ADMIN] {
        assert!(!file.contains(secret), "{secret} in the log file");
    }
    let target = std::fs::read_link(&link).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&dir), mode(&target)), (0o700, 0o600));
}
