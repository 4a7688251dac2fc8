//! [`PgBouncer`]: a pgbouncer of its own for one test, in front of a [`crate::PgServer`], in
//! the pooling mode the test asks for (`session` as Supabase's pooler on port 5432,
//! `transaction` as on port 6543), on a free loopback port,
//! stopped when dropped. It needs Debian's `pgbouncer` package (`.ci/run` installs it); when
//! the binary is missing, [`PgBouncer::start`] fails saying so — tests never skip silently.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{PgServer, free_port};

/// A pgbouncer owned by one test.
#[derive(Debug)]
pub struct PgBouncer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn binary() -> Result<PathBuf, String> {
    if let Ok(b) = std::env::var("TELBOT_PGBOUNCER") {
        return Ok(PathBuf::from(b));
    }
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            "pgbouncer is not installed (no /usr/sbin/pgbouncer): run `apt-get install \
             pgbouncer` (.ci/run does)"
                .to_string()
        })
}

impl PgBouncer {
    /// Starts pgbouncer in `mode` (`session` or `transaction`) in front of `pg` (every
    /// database of it, user `postgres`, trust on loopback). `pool_size` is the server
    /// connections per database: small in transaction mode, so that clients really share them.
    pub fn start(pg: &PgServer, mode: &str, pool_size: u32) -> Result<PgBouncer, String> {
        let bin = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("telbot-pgbouncer")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port().map_err(|e| e.to_string())?;
        let ini = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("userlist.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").map_err(|e| e.to_string())?;
        let text = format!(
            "[databases]\n* = host=127.0.0.1 port={pg_port} user=postgres\n\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
             pool_mode = {mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n\
             ignore_startup_parameters = extra_float_digits,search_path,options\n\
             logfile = {log}\npidfile =\nadmin_users = postgres\n",
            pg_port = pg.port(),
            users = users.display(),
            log = dir.path().join("pgbouncer.log").display(),
        );
        std::fs::write(&ini, text).map_err(|e| e.to_string())?;
        let mut cmd = if crate::is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("cannot chown the pgbouncer dir to postgres".into());
            }
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("pgbouncer: {e}"))?;
        let mut b = PgBouncer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = b.child.try_wait() {
                return Err(format!("pgbouncer exited at start ({status}): {}", b.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("pgbouncer did not start within 15 s: {}", b.log()));
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        Ok(b)
    }

    /// `postgres://postgres@127.0.0.1:PORT/<db>` through the pooler.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// pgbouncer's log so far (for a failing assertion's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
