//! The optional log file (`log.dir`): tracing-appender's daily rolling file with a retention
//! count, behind its non-blocking writer thread, kept private (directory 0700, files 0600).
//!
//! Files are `<dir>/<name>.YYYY-MM-DD.log` (UTC days), and `<dir>/<name>.log` is a link to
//! today's, so `tail -F <dir>/<name>.log` follows the log across days. The appender creates
//! each day's file itself with the process umask, so [`Private`] narrows it to 0600 at the
//! first write of a new day (inside a 0700 directory nobody else can open it meanwhile).
//!
//! The writer thread takes lines through a bounded channel of [`BUFFERED_LINES`] and is
//! *lossy*: when the disk stalls and the channel is full, file lines are dropped instead of
//! stalling the daemon (stderr still has every line). The [`WorkerGuard`] flushes what is
//! queued when it is dropped, so a daemon keeps it until it exits.

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use super::LogError;

/// Lines queued for the file at most (about 2 MB of typical lines); past it lines are dropped.
pub const BUFFERED_LINES: usize = 8192;

/// An open log file.
pub(crate) struct Opened {
    /// The non-blocking writer the file layer writes to.
    pub(crate) writer: NonBlocking,
    /// Flushes and stops the writer thread when dropped.
    pub(crate) guard: WorkerGuard,
    /// `<dir>/<name>.log`, the link to today's file.
    pub(crate) link: PathBuf,
}

fn bad(path: &Path, problem: impl std::fmt::Display) -> LogError {
    LogError::Dir {
        key: crate::config::display_key("log.dir"),
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

/// Creates `dir` (0700) if missing, refuses a `<name>.log` that is not our link, opens
/// today's file (0600) and prunes to `keep` files.
pub(crate) fn open(dir: &Path, name: &str, keep: usize) -> Result<Opened, LogError> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(bad(dir, "is not a directory"));
        }
    } else {
        create_private_dir(dir).map_err(|e| bad(dir, format!("cannot create it: {e}")))?;
    }
    // The link's target is absolute, so a relative `log.dir` still makes a working link.
    let abs = dir.canonicalize().map_err(|e| bad(dir, e))?;
    let link_name = format!("{name}.log");
    let link = abs.join(&link_name);
    if let Ok(m) = link.symlink_metadata()
        && !m.file_type().is_symlink()
    {
        return Err(bad(
            dir,
            format!(
                "{} exists and is not the link telbot keeps to today's file; move it away",
                link.display()
            ),
        ));
    }
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(name)
        .filename_suffix("log")
        .max_log_files(keep)
        .latest_symlink(link_name)
        .build(&abs)
        .map_err(|e| bad(dir, error_chain(&e)))?;
    tighten(&link).map_err(|e| bad(dir, format!("cannot make the log file private: {e}")))?;
    let private = Private {
        inner: appender,
        link: link.clone(),
        day: utc_day(),
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("telbot-log-file")
        .finish(private);
    Ok(Opened {
        writer,
        guard,
        link,
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// The rolling file, made private again on the first write of each new (UTC) day.
struct Private {
    inner: RollingFileAppender,
    link: PathBuf,
    day: u64,
}

impl Write for Private {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let day = utc_day();
        if day != self.day {
            // The appender has just rolled over (it checks its own clock on every write).
            self.day = day;
            if let Err(e) = tighten(&self.link) {
                eprintln!(
                    "log file {}: cannot make it private: {e}",
                    self.link.display()
                );
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn utc_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

/// Sets the file `link` points to to 0600 (unix; elsewhere nothing).
pub(crate) fn tighten(link: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let target = std::fs::read_link(link)?;
        let target = if target.is_absolute() {
            target
        } else {
            link.parent().unwrap_or(Path::new(".")).join(target)
        };
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = link;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// The mode of `dir` when group or others have any access to it.
pub(crate) fn loose_mode_of(dir: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The first write of a new day makes the file the appender just created private.
    #[test]
    fn a_new_days_file_is_made_private_at_its_first_write() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("bot")
            .filename_suffix("log")
            .latest_symlink("bot.log")
            .build(&dir)
            .unwrap();
        let link = dir.join("bot.log");
        let target = std::fs::read_link(&link).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut w = Private {
            inner: appender,
            link,
            day: utc_day() - 1,
        };
        w.write_all(b"first line of the day\n").unwrap();
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(w.day, utc_day());
    }
}
