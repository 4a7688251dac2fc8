//! Failed admin logins, counted per client: after `dashboard.login_max_failures` wrong tokens
//! within `dashboard.login_window`, every token that client sends is answered 429 with
//! `Retry-After` until the window (which began at its first failure) ends.
//!
//! Only guesses count: a wrong Bearer, Basic or `?token=` value. A missing or stale session
//! cookie (an open dashboard tab after its session expired keeps polling) does not, and a valid
//! cookie still works while its client is throttled: it is not a guess at the token.
//!
//! Memory is bounded: at most `dashboard.login_clients` entries; when full, expired entries go
//! first, then the one whose window began earliest. The client is the connection's peer
//! address, or with `dashboard.forwarded_for_hops = N` the N-th `X-Forwarded-For` entry from
//! the right (what a trusted proxy appended; the leftmost entries are the client's own words).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::time::Instant;

/// Who failed: an address, or `None` when the request came without one (in-process tests).
pub(crate) type Client = Option<IpAddr>;

/// One client's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When its first failure of this window was.
    since: Instant,
    /// Failures since then.
    failures: u32,
}

/// The failure counts.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// Failures allowed within a window.
    max_failures: u32,
    /// The window.
    window: Duration,
    /// Entries at most.
    capacity: usize,
    /// Per client; never held across an await.
    entries: Mutex<HashMap<Client, Entry>>,
}

impl Throttle {
    /// A throttle allowing `max_failures` per `window`, remembering `capacity` clients.
    pub(crate) fn new(max_failures: u32, window: Duration, capacity: usize) -> Throttle {
        Throttle {
            max_failures,
            window,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait before it may try a token again, if it must.
    pub(crate) fn blocked(&self, client: Client, now: Instant) -> Option<Duration> {
        let g = self.entries.lock().ok()?;
        let e = g.get(&client)?;
        let ends = e.since + self.window;
        (e.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts a wrong token from `client`; logs when that makes it throttled.
    pub(crate) fn failed(&self, client: Client, now: Instant) {
        let Ok(mut g) = self.entries.lock() else {
            return;
        };
        let failures = self.count(&mut g, client, now);
        drop(g);
        if failures == self.max_failures {
            let who = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
            tracing::warn!(
                client = %who,
                failures,
                window_s = self.window.as_secs(),
                "admin logins throttled: too many wrong tokens from one client"
            );
        }
    }

    /// Adds one failure of `client` and returns its failures in this window.
    fn count(&self, g: &mut HashMap<Client, Entry>, client: Client, now: Instant) -> u32 {
        let window = self.window;
        if let Some(e) = g.get_mut(&client) {
            if now.duration_since(e.since) >= window {
                *e = Entry {
                    since: now,
                    failures: 1,
                };
            } else {
                e.failures = e.failures.saturating_add(1);
            }
            return e.failures;
        }
        if g.len() >= self.capacity {
            g.retain(|_, e| now.duration_since(e.since) < window);
        }
        if g.len() >= self.capacity
            && let Some(oldest) = g.iter().min_by_key(|(_, e)| e.since).map(|(k, _)| *k)
        {
            g.remove(&oldest);
        }
        g.insert(
            client,
            Entry {
                since: now,
                failures: 1,
            },
        );
        1
    }

    /// `client` proved it holds the token: its count starts again.
    pub(crate) fn succeeded(&self, client: Client) {
        if let Ok(mut g) = self.entries.lock() {
            g.remove(&client);
        }
    }

    #[cfg(test)]
    /// Clients remembered now.
    pub(crate) fn clients(&self) -> usize {
        self.entries.lock().map_or(0, |g| g.len())
    }
}

/// The client a request counts against: `peer` (`None` without a connection), or with
/// `hops > 0` the `hops`-th `X-Forwarded-For` entry from the right when there is one that is
/// an address (else `peer`).
pub(crate) fn client_of(headers: &HeaderMap, peer: Client, hops: usize) -> Client {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    entries
        .len()
        .checked_sub(hops)
        .and_then(|i| entries.get(i))
        .and_then(|e| e.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Client {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_client_is_blocked_after_its_failures_until_the_window_ends() {
        let t = Throttle::new(3, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked(ip(1), t0), None, "before failure {i}");
            t.failed(ip(1), t0 + Duration::from_secs(i));
        }
        assert_eq!(
            t.blocked(ip(1), t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(t.blocked(ip(2), t0), None, "other clients are not");
        assert_eq!(t.blocked(ip(1), t0 + Duration::from_secs(60)), None);
        // A new window starts with the next failure.
        t.failed(ip(1), t0 + Duration::from_secs(61));
        assert_eq!(t.blocked(ip(1), t0 + Duration::from_secs(62)), None);
        t.succeeded(ip(1));
        assert_eq!(t.clients(), 0);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_goes_first() {
        let t = Throttle::new(1, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for i in 0..10u8 {
            t.failed(ip(i), t0 + Duration::from_secs(u64::from(i)));
            assert!(t.clients() <= 3);
        }
        let now = t0 + Duration::from_secs(10);
        assert!(t.blocked(ip(9), now).is_some());
        assert!(t.blocked(ip(7), now).is_some());
        assert_eq!(t.blocked(ip(0), now), None, "evicted");
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_hop_is_configured() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        h.append("x-forwarded-for", "5.6.7.8".parse().unwrap());
        let peer = ip(9);
        assert_eq!(client_of(&h, peer, 0), peer, "not trusted: spoofable");
        assert_eq!(client_of(&h, peer, 1), Some(IpAddr::from([5, 6, 7, 8])));
        assert_eq!(client_of(&h, peer, 2), Some(IpAddr::from([1, 2, 3, 4])));
        assert_eq!(client_of(&h, peer, 4), peer, "fewer hops than configured");
        assert_eq!(client_of(&HeaderMap::new(), peer, 1), peer);
    }
}
