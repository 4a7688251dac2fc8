//! A small tmpfs for "the SQLite volume is full": `mount -t tmpfs -o size=16m tmpfs DIR`,
//! filled with one file until the disk is full, freed by deleting it, unmounted on drop (also
//! after a panic). Mounting needs the permission to mount; without it [`Tmpfs::mount`] fails
//! with a message saying so (the row fails, it is never skipped).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ChaosError;

/// A mounted tmpfs; unmounted when dropped.
#[derive(Debug)]
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Creates `dir` and mounts a tmpfs of `size_mb` MB there.
    pub fn mount(dir: &Path, size_mb: u32) -> Result<Tmpfs, ChaosError> {
        std::fs::create_dir_all(dir).map_err(|e| ChaosError::io("creating the mount point", e))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| ChaosError::io("running mount", e))?;
        if !out.status.success() {
            return Err(ChaosError::Setup(format!(
                "cannot mount a {size_mb} MB tmpfs at {} (the volume-full row needs the permission to mount, e.g. root): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Writes one file until the volume is full; returns the bytes written.
    pub fn fill(&self) -> Result<u64, ChaosError> {
        let mut f = std::fs::File::create(self.filler())
            .map_err(|e| ChaosError::io("creating the filler file", e))?;
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        // 16 MB at most; the loop ends at the first ENOSPC.
        for _ in 0..100_000 {
            match f.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        // Fill the last partial block too.
        for _ in 0..100_000 {
            match f.write(&chunk[..512]) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        let _ = f.flush();
        Ok(written)
    }

    /// Deletes the filler file.
    pub fn free(&self) -> Result<(), ChaosError> {
        std::fs::remove_file(self.filler())
            .map_err(|e| ChaosError::io("deleting the filler file", e))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy (a process holds a file): detach it now, it goes when released.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
