//! The dashboard's session cookie and the CSRF token, both derived from `ADMIN_TOKEN`.
//!
//! A session cookie is `v1.<issued_ms>.<nonce>.<mac>`: an HMAC-SHA256 (ring) over the first
//! three parts, keyed from the admin token. No server-side table: every bot-server instance
//! that shares `ADMIN_TOKEN` (several behind a load balancer) accepts the sessions any of them
//! issued, a restart keeps them, and rotating the token ends them all. A session is valid while
//! `issued + dashboard.session_ttl` is in the future (the lifetime of the *current* config, so
//! shortening it shortens sessions already issued) and it was issued after the revocation
//! epoch: logging out moves the epoch to now — in this process at once, and in the store's
//! `kv` row [`KV_NOT_BEFORE`], which every instance re-reads at most every [`EPOCH_REFRESH`].
//! So a logout ends every session, on every instance sharing the store, including copies of
//! the cookie. Instances on different stores (SQLite: one bot-server per file) share the
//! token but not the epoch: there a copied cookie lives until it expires.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ring::hmac;
use telbot_shared::store::Db;
use tokio::time::Instant;

/// The store key holding the revocation epoch (unix milliseconds).
pub(crate) const KV_NOT_BEFORE: &str = "admin.sessions_not_before";
/// How stale this process's copy of the epoch may get before a session check re-reads it.
pub(crate) const EPOCH_REFRESH: Duration = Duration::from_secs(2);
/// How long a session check waits for the store before it uses the copy it has.
const EPOCH_WAIT: Duration = Duration::from_millis(500);

/// Issues and checks session cookies for one admin token.
pub(crate) struct Sessions {
    /// Derived from the admin token: signs cookies.
    key: hmac::Key,
    /// The CSRF token the page embeds (hex of an HMAC of a fixed label).
    csrf: String,
    /// `dashboard.session_ttl`.
    ttl: Duration,
    /// Sessions issued at or before this (unix ms) are revoked.
    not_before_ms: AtomicI64,
    /// When [`Sessions::not_before_ms`] was last read from the store.
    refreshed: Mutex<Option<Instant>>,
    /// Where the epoch is shared with the other instances (`None` in unit tests).
    db: Option<Db>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of lowercase or uppercase hex; `None` when it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

/// Unix milliseconds now (wall clock: cookies are compared across instances).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Sessions {
    /// Sessions for `token`, valid for `ttl`, sharing the revocation epoch through `db`.
    pub(crate) fn new(token: &str, ttl: Duration, db: Option<Db>) -> Sessions {
        let root = hmac::Key::new(hmac::HMAC_SHA256, b"telbot admin session key v1");
        let key = hmac::Key::new(
            hmac::HMAC_SHA256,
            hmac::sign(&root, token.as_bytes()).as_ref(),
        );
        let csrf = hex(hmac::sign(&key, b"csrf v1").as_ref());
        Sessions {
            key,
            csrf,
            ttl,
            not_before_ms: AtomicI64::new(0),
            refreshed: Mutex::new(None),
            db,
        }
    }

    /// The CSRF token the page embeds.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The lifetime of a new session (the cookie's Max-Age).
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session cookie value, issued at `now_ms`.
    pub(crate) fn issue(&self, now_ms: i64) -> String {
        let body = format!("v1.{now_ms}.{}", super::guard::random_hex(12));
        let mac = hex(hmac::sign(&self.key, body.as_bytes()).as_ref());
        format!("{body}.{mac}")
    }

    /// Whether `value` is a session this key issued that is neither expired nor revoked at
    /// `now_ms` (the MAC is checked in constant time).
    pub(crate) fn valid(&self, value: &str, now_ms: i64) -> bool {
        let Some((body, mac)) = value.rsplit_once('.') else {
            return false;
        };
        let Some(mac) = unhex(mac) else {
            return false;
        };
        if hmac::verify(&self.key, body.as_bytes(), &mac).is_err() {
            return false;
        }
        let mut parts = body.split('.');
        let (Some("v1"), Some(issued)) = (parts.next(), parts.next()) else {
            return false;
        };
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        issued > self.not_before_ms.load(Ordering::Acquire) && now_ms < issued.saturating_add(ttl)
    }

    /// Ends every session issued up to `now_ms`: here at once, elsewhere through the store.
    pub(crate) async fn revoke_all(
        &self,
        now_ms: i64,
    ) -> Result<(), telbot_shared::store::StoreError> {
        // Never move the shared epoch back (another instance's clock may be ahead of ours).
        let epoch = self
            .not_before_ms
            .fetch_max(now_ms, Ordering::AcqRel)
            .max(now_ms);
        match &self.db {
            Some(db) => db.kv_set(KV_NOT_BEFORE, &epoch.to_string()).await,
            None => Ok(()),
        }
    }

    /// Re-reads the revocation epoch from the store when this process's copy is older than
    /// [`EPOCH_REFRESH`]; a store that does not answer within [`EPOCH_WAIT`] leaves the copy
    /// as it is (the dashboard must keep working while the store is down).
    pub(crate) async fn refresh_epoch(&self) {
        let Some(db) = &self.db else { return };
        {
            let Ok(mut at) = self.refreshed.lock() else {
                return;
            };
            if at.is_some_and(|t| t.elapsed() < EPOCH_REFRESH) {
                return;
            }
            *at = Some(Instant::now());
        }
        match tokio::time::timeout(EPOCH_WAIT, db.kv_get(KV_NOT_BEFORE)).await {
            Ok(Ok(Some(v))) => {
                if let Ok(ms) = v.trim().parse::<i64>() {
                    self.not_before_ms.fetch_max(ms, Ordering::AcqRel);
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the session revocation epoch"),
            Err(_) => tracing::warn!("the store did not give the session revocation epoch in time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_session_is_valid_until_its_lifetime_ends() {
        let s = Sessions::new("admin-token-xyz", HOUR, None);
        let t = 1_000_000_000_000;
        let c = s.issue(t);
        assert!(s.valid(&c, t));
        assert!(s.valid(&c, t + 3_599_999));
        assert!(!s.valid(&c, t + 3_600_000), "expired at issued + ttl");
        // A shorter configured lifetime shortens sessions already issued.
        let short = Sessions::new("admin-token-xyz", Duration::from_secs(60), None);
        assert!(short.valid(&c, t + 59_999));
        assert!(!short.valid(&c, t + 60_000));
    }

    #[test]
    fn only_this_tokens_untampered_cookies_are_valid() {
        let s = Sessions::new("admin-token-xyz", HOUR, None);
        let other = Sessions::new("another-token", HOUR, None);
        let t = 1_000_000_000_000;
        let c = s.issue(t);
        assert!(
            Sessions::new("admin-token-xyz", HOUR, None).valid(&c, t),
            "any instance"
        );
        assert!(!other.valid(&c, t), "another token's key");
        // Moving the issue time forward (to outlive the ttl) breaks the MAC.
        let forged = c.replacen(&t.to_string(), &(t + 3_000_000).to_string(), 1);
        assert!(!s.valid(&forged, t + 3_600_000));
        for junk in ["", "v1", "v1.1.2.zz", "guess", "v2.1.2.00"] {
            assert!(!s.valid(junk, t), "{junk}");
        }
        assert_eq!(
            s.csrf(),
            Sessions::new("admin-token-xyz", HOUR, None).csrf()
        );
        assert_ne!(s.csrf(), other.csrf());
        assert!(!s.csrf().contains("admin-token-xyz") && !c.contains("admin-token-xyz"));
    }

    #[tokio::test]
    async fn revoking_ends_sessions_issued_before_it_only() {
        let s = Sessions::new("admin-token-xyz", HOUR, None);
        let t = 1_000_000_000_000;
        let before = s.issue(t);
        s.revoke_all(t + 10).await.unwrap();
        assert!(!s.valid(&before, t + 11));
        let after = s.issue(t + 11);
        assert!(s.valid(&after, t + 12));
        // The epoch never goes back.
        s.revoke_all(t).await.unwrap();
        assert!(!s.valid(&before, t + 12));
    }
}
