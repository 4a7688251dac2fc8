//! A PostgreSQL host "across a network" on this machine: a network namespace joined to this
//! one by a veth pair, with `tc netem` delaying each direction by half the round trip. A
//! server started in it ([`crate::PgServer::start_in`]) is reached at [`NetemLink::far`]; the
//! rest of the test (simulator, load, bot-servers) stays on loopback without delay. Needs
//! root (or CAP_NET_ADMIN) and iproute2's `ip` and `tc`; dropped, the namespace and its link
//! are deleted.

use std::process::Command;
use std::time::Duration;

/// The namespace and its delayed link.
#[derive(Debug)]
pub struct NetemLink {
    ns: String,
    near: String,
    far: String,
    rtt: Duration,
}

fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

fn run(prog: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetemLink {
    /// A namespace `tbpg<pid>` at 10.203.<n>.2, this side 10.203.<n>.1, `rtt` apart (netem
    /// `delay rtt/2` on both ends of the veth pair). `n` tells links of one process apart
    /// (0-255).
    pub fn create(rtt: Duration, n: u8) -> Result<NetemLink, String> {
        let pid = std::process::id() % 100_000;
        let ns = format!("tbpg{pid}n{n}");
        let (h, p) = (format!("tbh{pid}n{n}"), format!("tbp{pid}n{n}"));
        let (near, far) = (format!("10.203.{n}.1"), format!("10.203.{n}.2"));
        // A namespace left by a killed run of this pid is replaced.
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        let link = NetemLink {
            ns,
            near,
            far,
            rtt,
        };
        let half = format!("{}us", rtt.as_micros() / 2);
        let ns = link.ns.as_str();
        ip(&["link", "add", &h, "type", "veth", "peer", "name", &p])?;
        ip(&["link", "set", &p, "netns", ns])?;
        ip(&["addr", "add", &format!("{}/24", link.near), "dev", &h])?;
        ip(&["link", "set", &h, "up"])?;
        ip(&["-n", ns, "addr", "add", &format!("{}/24", link.far), "dev", &p])?;
        ip(&["-n", ns, "link", "set", &p, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        if !rtt.is_zero() {
            run("tc", &["qdisc", "add", "dev", &h, "root", "netem", "delay", &half])?;
            run(
                "tc",
                &["-n", ns, "qdisc", "add", "dev", &p, "root", "netem", "delay", &half],
            )?;
        }
        Ok(link)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// The far end's address (where a server in the namespace listens).
    pub fn far(&self) -> &str {
        &self.far
    }

    /// This side's address.
    pub fn near(&self) -> &str {
        &self.near
    }

    /// The round trip added.
    pub fn rtt(&self) -> Duration {
        self.rtt
    }
}

impl Drop for NetemLink {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = ip(&["netns", "del", &self.ns]);
    }
}
