//! `watchdog backup now` / `watchdog backup verify` on a SQLite store: a backup written while
//! the store is in use, old ones pruned to store.backup_keep, the newest opened as a store
//! (a restore) with the data in it, and a truncated or corrupted backup refused by verify.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::World;

use common::run_binary as run;

fn store_of(env: &HashMap<String, String>) -> telbot_shared::config::StoreConfig {
    telbot_shared::config::StoreConfig::from_section(
        telbot_shared::config::section(&telbot_shared::config::load(None, env).unwrap(), "store")
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_written_pruned_restored_and_verified() {
    let w = World::start().await;
    let backups = tempfile::tempdir().unwrap();
    let mut env = w.env.clone();
    env.insert(
        "TELBOT__STORE__BACKUP_DIR".into(),
        backups.path().display().to_string(),
    );
    env.insert("TELBOT__STORE__BACKUP_KEEP".into(), "2".into());
    // Something to find in the restored copy; the store stays open (in use) meanwhile.
    let live = telbot_shared::store::connect(&store_of(&env))
        .await
        .unwrap();
    live.kv_set("backup.marker", "before the backup")
        .await
        .unwrap();

    let (code, out) = run(&env, &["backup", "verify"]).await;
    assert_eq!(code, 2, "no backup yet: {out}");
    assert!(out.contains("no backup in"), "{out}");
    for i in 0..3 {
        let (code, out) = run(&env, &["backup", "now"]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("backup: written"), "{out}");
        assert_eq!(out.contains("removed"), i == 2, "{out}");
    }
    let files = watchdog::backups(backups.path()).unwrap();
    assert_eq!(files.len(), 2, "pruned to backup_keep: {files:?}");

    let (code, out) = run(&env, &["backup", "verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("integrity ok"), "{out}");
    // A restore: the newest backup, copied and opened as the store.
    let restored = backups.path().join("restored.sqlite");
    std::fs::copy(&files[1], &restored).unwrap();
    let mut renv = env.clone();
    renv.insert(
        "DATABASE_URL".into(),
        format!("sqlite://{}", restored.display()),
    );
    let db = telbot_shared::store::connect(&store_of(&renv))
        .await
        .unwrap();
    assert_eq!(
        db.kv_get("backup.marker").await.unwrap().as_deref(),
        Some("before the backup")
    );
    // Past store.backup_max_age: sound, but a warning.
    let mut old = env.clone();
    old.insert("TELBOT__STORE__BACKUP_MAX_AGE".into(), "1ms".into());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (code, out) = run(&old, &["backup", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("older than store.backup_max_age"), "{out}");

    // Truncated: half of the newest file.
    let bytes = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &bytes[..bytes.len() / 2]).unwrap();
    let (code, out) = run(&env, &["backup", "verify"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("backup: FAILED") && out.contains(&files[1].display().to_string()),
        "{out}"
    );
    // Corrupted: pages overwritten past the header.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    for b in bytes.iter_mut().skip(4096).take(8192) {
        *b = 0x5a;
    }
    std::fs::write(&files[0], &bytes).unwrap();
    let (code, out) = run(
        &env,
        &[
            "backup",
            "verify",
            "--file",
            &files[0].display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("backup: FAILED"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_refused_on_postgres() {
    let mut w = World::start().await;
    w.env.insert(
        "DATABASE_URL".into(),
        "postgres://nobody@127.0.0.1:1/none".into(),
    );
    let (code, out) = run(&w.env, &["backup", "now"]).await;
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("PostgreSQL is backed up by its provider"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_backs_up_on_its_schedule() {
    let w = World::start().await;
    let backups = tempfile::tempdir().unwrap();
    let mut env = w.env.clone();
    env.insert(
        "TELBOT__STORE__BACKUP_DIR".into(),
        backups.path().display().to_string(),
    );
    env.insert("TELBOT__STORE__BACKUP_KEEP".into(), "2".into());
    env.insert(
        "TELBOT__WATCHDOG__SCHEDULE__BACKUP".into(),
        "* * * * * *".into(),
    );
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("run")
        .env_clear()
        .envs(&env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let dir = backups.path().to_path_buf();
    let made = telbot_testkit::wait_until(Duration::from_secs(30), || {
        watchdog::backups(&dir).map(|f| f.len()).unwrap_or(0) >= 2
    })
    .await;
    let _ = daemon.kill().await;
    assert!(made, "no scheduled backups in {}", dir.display());
    let (code, out) = run(&env, &["backup", "verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(watchdog::backups(&dir).unwrap().len() <= 2, "pruned");
}

/// A backup killed half way (the daemon stopped mid-`VACUUM INTO`) leaves a `.partial` file,
/// never a truncated file under a backup's name: `verify` judges the last complete backup, and
/// the next backup removes the stale partial. Names sort by time to the millisecond, so two
/// backups in one second keep their order (the newest is never the one pruned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_cut_short_is_never_taken_for_the_newest() {
    let w = World::start().await;
    let backups = tempfile::tempdir().unwrap();
    let mut env = w.env.clone();
    env.insert(
        "TELBOT__STORE__BACKUP_DIR".into(),
        backups.path().display().to_string(),
    );
    env.insert("TELBOT__STORE__BACKUP_KEEP".into(), "2".into());
    let (code, out) = run(&env, &["backup", "now"]).await;
    assert_eq!(code, 0, "{out}");
    // What a kill mid-write leaves: a later-named, truncated file, old enough to be stale.
    let cut = backups
        .path()
        .join("telbot-2999-01-01T00-00-00.000Z.db.partial");
    std::fs::write(&cut, b"SQLite format 3\0 truncated").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(watchdog::backups(backups.path()).unwrap().len(), 1);
    let (code, out) = run(&env, &["backup", "verify"]).await;
    assert_eq!(code, 0, "the complete backup is the newest: {out}");
    for _ in 0..2 {
        let (code, out) = run(&env, &["backup", "now"]).await;
        assert_eq!(code, 0, "{out}");
    }
    assert!(!cut.exists(), "the stale partial was removed");
    let files = watchdog::backups(backups.path()).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let mut sorted_by_time = files.clone();
    sorted_by_time.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    assert_eq!(files, sorted_by_time, "names sort as the backups were made");
}
