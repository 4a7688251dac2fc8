//! Who may hold a connection. A connection is *untrusted* until it has made a webhook request
//! with the right secret. Untrusted connections share a small budget, and each client address
//! has a cap of its own; when either is full, the oldest idle untrusted connection (of that
//! address, for the per-address cap) is closed to make room, so a flood of idle or slow
//! connections can never keep `/health` or Telegram out. A connection with a request in
//! flight is never closed this way. The same registry holds the byte budget for webhook
//! bodies in memory, all connections together.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The connection limits (`server.*` in the config).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Open connections at most (trusted and untrusted).
    pub max_connections: usize,
    /// Untrusted connections at most.
    pub max_untrusted: usize,
    /// Untrusted connections per client address at most (0: no cap).
    pub max_per_ip: usize,
    /// Bytes of webhook bodies held in memory at once.
    pub body_budget_bytes: usize,
}

impl ConnLimits {
    /// The limits from bot-server's config.
    pub(crate) fn from_config(cfg: &crate::BotConfig) -> Self {
        ConnLimits {
            max_connections: cfg.server.max_open_connections,
            max_untrusted: cfg.server.max_untrusted_connections,
            max_per_ip: cfg.server.max_connections_per_ip,
            body_budget_bytes: cfg.server.body_budget_bytes,
        }
    }
}

/// One connection as the registry sees it.
#[derive(Debug)]
pub(crate) struct Conn {
    id: u64,
    ip: IpAddr,
    busy: AtomicUsize,
    trusted: AtomicBool,
    released: AtomicBool,
    kill: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    open: usize,
    untrusted: BTreeMap<u64, Arc<Conn>>,
    per_ip: HashMap<IpAddr, usize>,
}

/// The connections and the body budget of one server.
#[derive(Debug)]
pub(crate) struct Registry {
    limits: ConnLimits,
    inner: Mutex<Inner>,
    body_budget: Arc<Semaphore>,
}

/// Why a new connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its address has its cap of untrusted connections, all with a request in flight.
    PerIp,
    /// Every untrusted or open slot has a request in flight.
    Full,
}

impl Registry {
    /// An empty registry with these limits.
    pub(crate) fn new(limits: ConnLimits) -> Arc<Self> {
        let permits = limits.body_budget_bytes.min(Semaphore::MAX_PERMITS);
        Arc::new(Registry {
            limits,
            inner: Mutex::new(Inner::default()),
            body_budget: Arc::new(Semaphore::new(permits)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters behind: keep using them.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `ip`, closing the oldest idle untrusted one when a limit is
    /// reached; refuses it when every candidate is busy.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnHandle, Refused> {
        let mut g = self.lock();
        if self.limits.max_per_ip > 0
            && g.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_per_ip
        {
            evict(&mut g, Some(ip)).ok_or(Refused::PerIp)?;
        }
        if g.untrusted.len() >= self.limits.max_untrusted {
            evict(&mut g, None).ok_or(Refused::Full)?;
        }
        if g.open >= self.limits.max_connections {
            evict(&mut g, None).ok_or(Refused::Full)?;
        }
        g.next_id += 1;
        let conn = Arc::new(Conn {
            id: g.next_id,
            ip,
            busy: AtomicUsize::new(0),
            trusted: AtomicBool::new(false),
            released: AtomicBool::new(false),
            kill: CancellationToken::new(),
        });
        g.open += 1;
        g.untrusted.insert(conn.id, conn.clone());
        *g.per_ip.entry(ip).or_insert(0) += 1;
        Ok(ConnHandle {
            conn,
            registry: self.clone(),
        })
    }

    #[cfg(test)]
    /// Open connections and untrusted ones (for tests and metrics).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.open, g.untrusted.len())
    }

    /// The byte budget for bodies in memory.
    pub(crate) fn body_budget(&self) -> &Arc<Semaphore> {
        &self.body_budget
    }

    fn release(&self, conn: &Conn) {
        if conn.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut g = self.lock();
        g.open = g.open.saturating_sub(1);
        drop_untrusted(&mut g, conn);
    }
}

fn drop_untrusted(g: &mut Inner, conn: &Conn) {
    if g.untrusted.remove(&conn.id).is_some()
        && let Some(n) = g.per_ip.get_mut(&conn.ip)
    {
        *n = n.saturating_sub(1);
        if *n == 0 {
            g.per_ip.remove(&conn.ip);
        }
    }
}

/// Closes the oldest idle untrusted connection (of `ip` when given); `None` when all are busy.
fn evict(g: &mut Inner, ip: Option<IpAddr>) -> Option<()> {
    let victim = g
        .untrusted
        .values()
        .find(|c| ip.is_none_or(|ip| c.ip == ip) && c.busy.load(Ordering::Acquire) == 0)?
        .clone();
    victim.released.store(true, Ordering::Release);
    g.open = g.open.saturating_sub(1);
    drop_untrusted(g, &victim);
    victim.kill.cancel();
    metrics::counter!("telbot_connections_evicted_total").increment(1);
    Some(())
}

/// A connection's place in the registry: released when dropped. Requests on the connection
/// find a clone in their extensions (the webhook route trusts it, and takes body budget).
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl ConnHandle {
    /// The peer address of the connection (the admin login throttle's client key).
    pub(crate) fn peer_ip(&self) -> IpAddr {
        self.conn.ip
    }

    /// Cancelled when the registry closes this connection to make room.
    pub(crate) fn killed(&self) -> CancellationToken {
        self.conn.kill.clone()
    }

    /// Marks a request in flight until the guard is dropped (busy connections are kept).
    pub(crate) fn busy(&self) -> BusyGuard {
        self.conn.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(self.conn.clone())
    }

    /// The connection made a request with the right secret: it leaves the untrusted budget.
    pub(crate) fn trust(&self) {
        if self.conn.trusted.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut g = self.registry.lock();
        drop_untrusted(&mut g, &self.conn);
    }

    /// The byte budget for webhook bodies in memory.
    pub(crate) fn body_budget(&self) -> &Arc<Semaphore> {
        self.registry.body_budget()
    }

    /// Gives the connection's slot back (when the connection ends).
    pub(crate) fn release(&self) {
        self.registry.release(&self.conn);
    }
}

/// See [`ConnHandle::busy`].
#[derive(Debug)]
pub(crate) struct BusyGuard(Arc<Conn>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_untrusted: usize, max_per_ip: usize) -> ConnLimits {
        ConnLimits {
            max_connections,
            max_untrusted,
            max_per_ip,
            body_budget_bytes: 1 << 20,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_only_ever_evicts_its_own_connections() {
        let r = Registry::new(limits(100, 50, 3));
        let other = r.admit(ip(1)).unwrap();
        let first: Vec<_> = (0..3).map(|_| r.admit(ip(2)).unwrap()).collect();
        for _ in 0..20 {
            let _ = r.admit(ip(2)).unwrap();
        }
        assert!(!other.killed().is_cancelled());
        assert!(first.iter().all(|c| c.killed().is_cancelled()));
        assert_eq!(r.counts(), (4, 4));
    }

    #[test]
    fn busy_and_trusted_connections_are_never_evicted() {
        let r = Registry::new(limits(4, 2, 0));
        let telegram = r.admit(ip(1)).unwrap();
        telegram.trust();
        let health = r.admit(ip(3)).unwrap();
        let _busy = health.busy();
        let idle = r.admit(ip(2)).unwrap();
        let newer = r.admit(ip(2)).unwrap();
        assert!(idle.killed().is_cancelled());
        assert!(!health.killed().is_cancelled() && !telegram.killed().is_cancelled());
        let _b2 = newer.busy();
        assert_eq!(r.admit(ip(2)).unwrap_err(), Refused::Full);
        drop(_busy);
        assert!(r.admit(ip(2)).is_ok());
        assert!(health.killed().is_cancelled());
    }

    #[test]
    fn released_connections_free_their_slots_once() {
        let r = Registry::new(limits(2, 2, 1));
        let a = r.admit(ip(1)).unwrap();
        a.release();
        a.release();
        let b = r.admit(ip(1)).unwrap();
        assert!(!b.killed().is_cancelled());
        assert_eq!(r.counts(), (1, 1));
    }
}
