//! Who may use the admin routes and the dashboard: `ADMIN_TOKEN` as a Bearer token, as the
//! password of Basic auth (any user), or the dashboard's session cookie; POSTs with browser
//! credentials also need the page's CSRF token ([`guard`]).
//!
//! - [`session`]: the signed, expiring session cookie and its revocation (logout).
//! - [`throttle`]: failed logins counted per client (429 with `Retry-After`).
//! - [`guard`]: cookies, CSRF and same-site rules.
//!
//! Handlers take [`Admin`] (reads) or [`AdminWrite`] (POSTs) as an extractor; a refused
//! request never reaches the handler.

pub(crate) mod guard;
pub(crate) mod session;
pub(crate) mod throttle;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::headers::authorization::{Basic, Bearer};
use axum_extra::headers::{Authorization, HeaderMapExt};
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::store::Db;

pub(crate) use guard::Via;
pub(crate) use session::Sessions;
pub(crate) use throttle::{Client, Throttle};

use crate::config::DashboardConfig;
use crate::serve::ConnHandle;

/// The admin token, the dashboard's sessions and the failed-login throttle.
#[derive(Debug)]
pub struct AdminAuth {
    /// `ADMIN_TOKEN`; `None` turns every admin route off.
    token: Option<SecretString>,
    /// Session cookies and the CSRF token, keyed from the token (`None` with no token).
    sessions: Option<Sessions>,
    /// Wrong tokens per client.
    throttle: Throttle,
    /// `dashboard.forwarded_for_hops`: who a client is.
    forwarded_for_hops: usize,
}

impl AdminAuth {
    /// Admin auth for `token` with the `[dashboard]` session and throttle settings; `db`
    /// shares the logout epoch between instances.
    pub fn new(token: Option<SecretString>, cfg: &DashboardConfig, db: Option<Db>) -> AdminAuth {
        let sessions = token
            .as_ref()
            .map(|t| Sessions::new(t.expose_secret(), cfg.session_ttl, db));
        AdminAuth {
            token,
            sessions,
            throttle: Throttle::new(cfg.login_max_failures, cfg.login_window, cfg.login_clients),
            forwarded_for_hops: cfg.forwarded_for_hops,
        }
    }

    /// The CSRF token the page embeds (empty when admin routes are off).
    pub fn csrf(&self) -> &str {
        self.sessions.as_ref().map_or("", Sessions::csrf)
    }

    /// The sessions (`None` when admin routes are off).
    pub(crate) fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_ref()
    }

    /// The client a request counts against in the failed-login throttle.
    pub fn client(&self, headers: &HeaderMap, ext: &http::Extensions) -> Client {
        let peer = ext.get::<ConnHandle>().map(ConnHandle::peer_ip);
        throttle::client_of(headers, peer, self.forwarded_for_hops)
    }

    /// The one-time `?token=` login: `Ok` when `given` is the admin token. Throttled and
    /// counted like any other token.
    pub(crate) fn login(&self, given: &str, client: Client) -> Result<(), Refusal> {
        let want = self.token.as_ref().ok_or(Refusal::Disabled)?;
        let now = tokio::time::Instant::now();
        if let Some(wait) = self.throttle.blocked(client, now) {
            return Err(Refusal::Throttled(wait));
        }
        if guard::same(given, want.expose_secret()) {
            self.throttle.succeeded(client);
            Ok(())
        } else {
            self.throttle.failed(client, now);
            Err(Refusal::Unauthorized)
        }
    }

    /// Whether the request carries a valid, unexpired, unrevoked session cookie.
    pub fn has_session(&self, headers: &HeaderMap) -> bool {
        let Some(s) = &self.sessions else {
            return false;
        };
        guard::cookie(headers, guard::COOKIE).is_some_and(|v| s.valid(&v, session::now_ms()))
    }

    /// How the request proved itself, or why it is refused. The token is compared in
    /// constant time; auth schemes are case-insensitive (RFC 9110 §11.1). No throttle: see
    /// [`AdminAuth::admit`].
    pub fn check(&self, headers: &HeaderMap) -> Result<Via, Refusal> {
        let Some(token) = &self.token else {
            return Err(Refusal::Disabled);
        };
        let want = token.expose_secret();
        let (via, given) =
            if let Some(Authorization(b)) = headers.typed_get::<Authorization<Bearer>>() {
                (Via::Bearer, b.token().trim().to_string())
            } else if let Some(Authorization(b)) = headers.typed_get::<Authorization<Basic>>() {
                (Via::Basic, b.password().to_string())
            } else if headers.contains_key(header::AUTHORIZATION) {
                // Another scheme, or a Basic value that does not decode: refused.
                (Via::Bearer, String::new())
            } else if self.has_session(headers) {
                return Ok(Via::Session);
            } else {
                (Via::Bearer, String::new())
            };
        if guard::same(&given, want) {
            Ok(via)
        } else {
            Err(Refusal::Unauthorized)
        }
    }

    /// [`AdminAuth::check`] for POSTs: browser credentials (Basic, the session cookie) also
    /// need the dashboard's `X-CSRF-Token`, and a cross-site `Origin` is refused.
    pub fn check_write(&self, headers: &HeaderMap) -> Result<Via, Refusal> {
        let via = self.check(headers)?;
        match guard::write_refusal(headers, via, self.csrf()) {
            Some(why) => Err(Refusal::Forbidden(why)),
            None => Ok(via),
        }
    }

    /// [`AdminAuth::check`] or [`AdminAuth::check_write`] with the failed-login throttle: a
    /// request that offers a token (an `Authorization` header) from a throttled client gets
    /// 429; a wrong one is counted. A session cookie is checked against a fresh revocation
    /// epoch.
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        client: Client,
        write: bool,
    ) -> Result<Via, Refusal> {
        if self.token.is_none() {
            return Err(Refusal::Disabled);
        }
        let offers_token = headers.contains_key(header::AUTHORIZATION);
        let now = tokio::time::Instant::now();
        if offers_token && let Some(wait) = self.throttle.blocked(client, now) {
            return Err(Refusal::Throttled(wait));
        }
        if !offers_token
            && guard::cookie(headers, guard::COOKIE).is_some()
            && let Some(s) = &self.sessions
        {
            s.refresh_epoch().await;
        }
        let via = match self.check(headers) {
            Err(Refusal::Unauthorized) if offers_token => {
                self.throttle.failed(client, now);
                return Err(Refusal::Unauthorized);
            }
            Ok(via) if offers_token => {
                self.throttle.succeeded(client);
                via
            }
            other => other?,
        };
        if write && let Some(why) = guard::write_refusal(headers, via, self.csrf()) {
            return Err(Refusal::Forbidden(why));
        }
        Ok(via)
    }
}

/// Why an admin request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No ADMIN_TOKEN configured: admin routes are off.
    Disabled,
    /// Wrong or missing token.
    Unauthorized,
    /// A POST with browser credentials but no valid CSRF token, or from another site.
    Forbidden(&'static str),
    /// Too many wrong tokens from this client: try again after this long.
    Throttled(Duration),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Disabled => (
                StatusCode::FORBIDDEN,
                "admin routes are disabled: set ADMIN_TOKEN to enable them\n",
            )
                .into_response(),
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"telbot\", charset=\"UTF-8\"",
                )],
                "admin token required\n",
            )
                .into_response(),
            Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, why).into_response(),
            Refusal::Throttled(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let secs = secs.max(1);
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many wrong admin tokens from this client; try again in {secs} s\n"
                    ),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
        }
    }
}

/// An admin request, proven before the handler runs: `WRITE = false` for reads (the admin
/// token or the session cookie), `true` for POSTs (also the CSRF and same-site rules for
/// browser credentials).
/// (How the admin authenticated mattered only to the checks, which are done by then.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdminAccess<const WRITE: bool>;

/// An admin read.
pub(crate) type Admin = AdminAccess<false>;
/// An admin write.
pub(crate) type AdminWrite = AdminAccess<true>;

impl<S, const WRITE: bool> FromRequestParts<S> for AdminAccess<WRITE>
where
    Arc<AdminAuth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let auth = Arc::<AdminAuth>::from_ref(state);
        let client = auth.client(&parts.headers, &parts.extensions);
        auth.admit(&parts.headers, client, WRITE)
            .await
            .map(|_via| AdminAccess)
    }
}
