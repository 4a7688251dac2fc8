//! `watchdog backup now` and `watchdog backup verify`: printing and exit codes.

use telbot_shared::config::{Backend, StoreConfig};

use super::{BackupCommand, EXIT_CONFIG, EXIT_UNAVAILABLE};
use crate::backup::{self, BackupError};

/// Runs one backup command; returns the exit code.
pub(super) async fn execute(cmd: &BackupCommand, store: &StoreConfig) -> u8 {
    if store.backend != Backend::Sqlite {
        eprintln!("watchdog backup: {}", BackupError::NotSqlite);
        return EXIT_CONFIG;
    }
    match cmd {
        BackupCommand::Now => {
            let db = match telbot_shared::store::connect(store).await {
                Ok(db) => db,
                Err(e) => {
                    eprintln!("watchdog backup: {e}");
                    return EXIT_UNAVAILABLE;
                }
            };
            let r = backup::now(&db, store).await;
            db.pool.close().await;
            match r {
                Ok((path, removed)) => {
                    println!("backup: written {}", path.display());
                    for old in removed {
                        println!(
                            "backup: removed {} (keeping {})",
                            old.display(),
                            store.backup_keep
                        );
                    }
                    0
                }
                Err(e) => {
                    eprintln!("backup: FAILED {e}");
                    2
                }
            }
        }
        BackupCommand::Verify { file } => {
            let r = match file {
                Some(f) => backup::verify(f).await,
                None => backup::verify_newest(&store.backup_dir).await,
            };
            match r {
                Ok(v) => {
                    let age =
                        humantime::format_duration(std::time::Duration::from_secs(v.age.as_secs()));
                    println!(
                        "backup: {} integrity ok, {} inbox rows, {age} old",
                        v.path.display(),
                        v.inbox_rows
                    );
                    if v.age > store.backup_max_age {
                        println!(
                            "backup: WARNING the newest backup is older than store.backup_max_age ({})",
                            humantime::format_duration(store.backup_max_age)
                        );
                        1
                    } else {
                        0
                    }
                }
                Err(e) => {
                    eprintln!("backup: FAILED {e}");
                    2
                }
            }
        }
    }
}
