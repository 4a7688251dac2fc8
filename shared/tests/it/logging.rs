//! Issue 27, part 10: the optional log file — the lines land in `<dir>/<name>.log`'s target,
//! masked, private (0700 / 0600); old files beyond `log.keep_files` go; a directory that
//! cannot be written is refused naming the key and the path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use secrecy::SecretString;
use telbot_shared::config::{EnvMap, load};
use telbot_shared::logging::{LogError, LogSettings, subscriber};
use telbot_shared::redact::Redactor;

const SECRET: &str = "123456:SECRETtokenVALUEabc";

fn settings(dir: &Path, keep: usize) -> LogSettings {
    LogSettings {
        dir: Some(dir.to_path_buf()),
        keep_files: keep,
        json: false,
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn bot_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("bot.") && n != "bot.log")
        .collect();
    v.sort();
    v
}

#[test]
fn lines_reach_a_private_file_with_secrets_masked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let redactor = Redactor::new([SecretString::from(SECRET.to_string())]);
    let (sub, guard) = subscriber(&settings(&dir, 7), "bot", redactor).unwrap();
    tracing::subscriber::with_default(sub, || {
        tracing::info!(n = 1, "first line to the file");
        tracing::warn!(token = SECRET, "a careless line with {SECRET}");
        tracing::error!("the last line before exit");
    });
    let link = guard.file().unwrap().to_path_buf();
    assert_eq!(link, dir.canonicalize().unwrap().join("bot.log"));
    // Dropping the guard flushes what the writer thread still holds.
    guard.finish();
    let target = std::fs::read_link(&link).unwrap();
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("bot.")
            && name.ends_with(".log")
            && name.len() == "bot.2026-12-07.log".len(),
        "{name}"
    );
    let text = std::fs::read_to_string(&link).unwrap();
    assert!(text.contains("first line to the file"), "{text}");
    assert!(text.contains("the last line before exit"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains("SECRETtokenVALUEabc"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in the file: {text:?}"
    );
    assert_eq!(mode(&dir), 0o700, "directory");
    assert_eq!(mode(&target), 0o600, "file");
}

#[test]
fn json_lines_in_the_file_when_log_format_is_json() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = settings(tmp.path(), 7);
    s.json = true;
    let (sub, guard) = subscriber(&s, "watchdog", Redactor::default()).unwrap();
    tracing::subscriber::with_default(sub, || tracing::info!(run = 3, "a json line"));
    let link = guard.file().unwrap().to_path_buf();
    guard.finish();
    let text = std::fs::read_to_string(link).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (v["message"].as_str(), v["run"].as_i64()),
        (Some("a json line"), Some(3))
    );
}

#[test]
fn files_beyond_keep_files_are_deleted_and_other_files_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // tracing-appender drops the oldest by creation time; real files are a day apart, these
    // a few clock ticks (the file system's timestamps are coarse).
    for day in 1..=9 {
        std::fs::write(dir.join(format!("bot.2026-11-0{day}.log")), "old\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(15));
    }
    std::fs::write(dir.join("watchdog.2026-11-01.log"), "the other daemon's\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a log\n").unwrap();
    let (_sub, guard) = subscriber(&settings(dir, 3), "bot", Redactor::default()).unwrap();
    let today = std::fs::read_link(guard.file().unwrap()).unwrap();
    let today = today.file_name().unwrap().to_string_lossy().into_owned();
    guard.finish();
    let mut want = vec![
        "bot.2026-11-08.log".to_string(),
        "bot.2026-11-09.log".to_string(),
        today,
    ];
    want.sort();
    assert_eq!(bot_files(dir), want, "keep_files = 3, today's included");
    assert!(dir.join("watchdog.2026-11-01.log").exists() && dir.join("notes.txt").exists());
}

#[test]
fn an_unusable_log_dir_is_refused_naming_the_key_and_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_a_file = file.join("logs");
    let Err(e) = subscriber(&settings(&under_a_file, 7), "bot", Redactor::default()) else {
        panic!("a directory under a file was accepted");
    };
    assert!(matches!(e, LogError::Dir { .. }));
    let e = e.to_string();
    assert!(e.contains("TELBOT__LOG__DIR (log.dir)"), "{e}");
    assert!(e.contains(&under_a_file.display().to_string()), "{e}");

    // A plain bot.log of someone else's is not overwritten by the link.
    let dir = tmp.path().join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("bot.log"), "keep me\n").unwrap();
    let Err(e) = subscriber(&settings(&dir, 7), "bot", Redactor::default()) else {
        panic!("a plain bot.log was replaced");
    };
    assert!(e.to_string().contains("is not the link"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.join("bot.log")).unwrap(),
        "keep me\n"
    );
}

#[test]
fn log_keys_come_from_the_layered_config_and_are_checked() {
    let env = |pairs: &[(&str, &str)]| -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let e = env(&[]);
    let s = LogSettings::from_config(&load(None, &e).unwrap(), &e).unwrap();
    assert_eq!(s, LogSettings::default(), "no file by default, 7 kept");
    let e = env(&[
        ("TELBOT__LOG__DIR", "logs"),
        ("TELBOT__LOG__KEEP_FILES", "14"),
        ("LOG_FORMAT", "json"),
    ]);
    let s = LogSettings::from_config(&load(None, &e).unwrap(), &e).unwrap();
    assert_eq!(
        (s.dir.as_deref(), s.keep_files, s.json),
        (Some(Path::new("logs")), 14, true)
    );
    let e = env(&[("TELBOT__LOG__KEEP_FILES", "0")]);
    let err = LogSettings::from_config(&load(None, &e).unwrap(), &e)
        .unwrap_err()
        .to_string();
    assert!(err.contains("log.keep_files"), "{err}");
}
