//! The live dashboard: `GET /bot/dashboard` (the page) and `GET /bot/dashboard/data` (the
//! JSON its script polls), both admin-only.
//!
//! - [`data`]: the [`data::Snapshot`] both are made from.
//! - [`page`]: server-rendered HTML with inline CSS and script under a CSP nonce.
//! - [`level`]: the status-light rules.
//! - [`chart`]: inline-SVG path data for the one-hour charts.
//! - [`sampler`]: the task filling the one-hour ring behind the charts ([`crate::recent`]).
//! - [`watchdog`]: the watchdog's recent actions and alerts from the shared store.
//!
//! Admin auth, the session cookie (one-time `?token=` login) and the CSRF rules for admin
//! POSTs are in [`crate::auth`].
//!
//! Nothing outside the page is loaded (no CDN), and no token or secret is put in the page or
//! the JSON: both are passed through the config's redactor before they leave.

pub mod chart;
pub mod data;
pub mod level;
pub mod page;
pub mod sampler;
pub mod watchdog;

use crate::auth::{Admin, Refusal, guard};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Headers every dashboard answer carries; the page adds its CSP.
fn protect(resp: &mut Response, csp: Option<String>) {
    let h = resp.headers_mut();
    if let Some(csp) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The page's Content-Security-Policy: nothing but its own nonce'd style and script, and
/// fetches to this origin.
pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `GET /bot/dashboard`: the page, or with `?token=` the one-time login.
pub(crate) async fn page(
    admin: Result<Admin, Refusal>,
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let token = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(given) = token {
        return login(&app, &given);
    }
    if let Err(r) = admin {
        return r.into_response();
    }
    let snap = data::collect(&app).await;
    let nonce = guard::random_hex(16);
    let refresh = app.cfg.dashboard.refresh.as_millis();
    let html = page::render(&snap, &nonce, app.auth.csrf(), refresh);
    let html = app.redactor.redact(&html);
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    protect(&mut resp, Some(csp(&nonce)));
    resp
}

fn login(app: &AppState, given: &str) -> Response {
    match app.auth.is_token(given) {
        Ok(true) => {}
        Ok(false) => return Refusal::Unauthorized.into_response(),
        Err(r) => return r.into_response(),
    }
    let secure = app
        .cfg
        .webhook_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/bot/dashboard"));
    if let Ok(v) = HeaderValue::from_str(&guard::session_cookie(app.auth.session(), secure)) {
        h.insert(header::SET_COOKIE, v);
    }
    protect(&mut resp, None);
    resp
}

/// `GET /bot/dashboard/data`: the snapshot as JSON.
pub(crate) async fn data(_: Admin, State(app): State<AppState>) -> Response {
    let snap = data::collect(&app).await;
    let body = match serde_json::to_string(&snap) {
        Ok(s) => app.redactor.redact(&s),
        Err(e) => {
            tracing::error!(error = %e, "dashboard snapshot did not serialize");
            return (StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed\n").into_response();
        }
    };
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    protect(
        &mut resp,
        Some("default-src 'none'; frame-ancestors 'none'".into()),
    );
    resp
}
