//! Issue 27, part 10, through the binary: with `TELBOT__LOG__DIR` the watchdog writes
//! `<dir>/watchdog.log` (a link to today's private file) up to its very last line, with no
//! secret in it; a directory it cannot use stops it at start with exit 78 naming the key.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::World;

use common::run_binary as run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_has_every_line_up_to_exit_and_no_secret() {
    let w = World::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let mut env = w.env.clone();
    env.insert("TELBOT__LOG__DIR".into(), dir.display().to_string());
    let (code, out) = run(&env, &["check"]).await;
    assert!(code == 0 || code == 1, "{out}");
    // The last thing `silence` does is log it; the file must have it after the exit.
    let (code, out) = run(
        &env,
        &["silence", "all", "--for", "1h", "--reason", "planned work"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let link = dir.join("watchdog.log");
    let text = std::fs::read_to_string(&link).unwrap();
    assert!(text.contains("logging to a file as well"), "{text}");
    assert!(
        text.lines().last().unwrap().contains("alerts silenced"),
        "{text}"
    );
    let token = env["TELEGRAM_BOT_TOKEN"].as_str();
    for secret in [common::SECRET, common::RENDER_KEY, token] {
        assert!(!text.contains(secret), "{secret} in the log file");
    }
    let target = std::fs::read_link(&link).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&dir), mode(&target)), (0o700, 0o600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_log_dir_exits_78_naming_the_key_and_the_path() {
    let w = World::start().await;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a-file"), "x").unwrap();
    let bad = tmp.path().join("a-file").join("logs");
    let mut env = w.env.clone();
    env.insert("TELBOT__LOG__DIR".into(), bad.display().to_string());
    let (code, out) = run(&env, &["check"]).await;
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("TELBOT__LOG__DIR (log.dir)") && out.contains(&bad.display().to_string()),
        "{out}"
    );
}
