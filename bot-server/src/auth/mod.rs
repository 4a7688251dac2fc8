//! Who may use the admin routes and the dashboard: `ADMIN_TOKEN` as a Bearer token, as the
//! password of Basic auth (any user), or the dashboard's session cookie; POSTs with browser
//! credentials also need the page's CSRF token ([`guard`]).
//!
//! Handlers take [`Admin`] (reads) or [`AdminWrite`] (POSTs) as an extractor; a refused
//! request never reaches the handler.

pub mod guard;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::headers::authorization::{Basic, Bearer};
use axum_extra::headers::{Authorization, HeaderMapExt};
use secrecy::{ExposeSecret, SecretString};

pub use guard::Via;

/// The admin token and this process's dashboard session and CSRF tokens.
#[derive(Debug)]
pub struct AdminAuth {
    /// `ADMIN_TOKEN`; `None` turns every admin route off.
    token: Option<SecretString>,
    /// Sent by the page's buttons in `X-CSRF-Token`; random per process.
    csrf: String,
    /// The session cookie's value after a `?token=` login; random per process.
    session: String,
}

impl AdminAuth {
    /// Fresh random session and CSRF tokens (a restart logs every browser out).
    pub fn new(token: Option<SecretString>) -> AdminAuth {
        AdminAuth {
            token,
            csrf: guard::random_hex(32),
            session: guard::random_hex(32),
        }
    }

    /// The CSRF token the page embeds.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The session cookie's value.
    pub(crate) fn session(&self) -> &str {
        &self.session
    }

    /// Whether `given` is the admin token (constant time); `Err` when admin routes are off.
    pub(crate) fn is_token(&self, given: &str) -> Result<bool, Refusal> {
        let want = self.token.as_ref().ok_or(Refusal::Disabled)?;
        Ok(guard::same(given, want.expose_secret()))
    }

    /// Whether the request carries this process's session cookie.
    pub fn has_session(&self, headers: &HeaderMap) -> bool {
        guard::cookie(headers, guard::COOKIE).is_some_and(|v| guard::same(&v, &self.session))
    }

    /// How the request proved itself, or why it is refused. The token is compared in
    /// constant time; auth schemes are case-insensitive (RFC 9110 §11.1).
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
        match guard::write_refusal(headers, via, &self.csrf) {
            Some(why) => Err(Refusal::Forbidden(why)),
            None => Ok(via),
        }
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
        }
    }
}

/// An admin request, proven before the handler runs: `WRITE = false` for reads (the admin
/// token or the session cookie), `true` for POSTs (also the CSRF and same-site rules for
/// browser credentials).
#[derive(Debug, Clone, Copy)]
pub struct AdminAccess<const WRITE: bool>(pub Via);

/// An admin read.
pub type Admin = AdminAccess<false>;
/// An admin write.
pub type AdminWrite = AdminAccess<true>;

impl<S, const WRITE: bool> FromRequestParts<S> for AdminAccess<WRITE>
where
    Arc<AdminAuth>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let auth = Arc::<AdminAuth>::from_ref(state);
        let via = if WRITE {
            auth.check_write(&parts.headers)
        } else {
            auth.check(&parts.headers)
        };
        via.map(AdminAccess)
    }
}
