//! The live dashboard: `GET /bot/dashboard` (the page), `GET /bot/dashboard/data` (the
//! JSON its script polls) and `POST /bot/dashboard/logout` (ends every session), all
//! admin-only.
//!
//! - [`snapshot`]: the [`snapshot::Snapshot`] both are made from; [`data`] builds it.
//! - [`clean`]: secrets masked in the snapshot's raw text, before any escaping.
//! - [`format`]: figures, sizes, ages and times as text.
//! - [`page`]: server-rendered HTML with inline CSS and script under a CSP nonce.
//! - [`level`]: the status-light rules.
//! - [`chart`]: inline-SVG path data for the one-hour charts.
//! - [`sampler`]: the task filling the one-hour ring behind the charts ([`crate::recent`]).
//! - [`watchdog`]: the watchdog's recent actions and alerts from the shared store.
//! - [`status`]: "Refresh status": a check pass asked of the watchdog through the store.
//!
//! Admin auth, the session cookie (one-time `?token=` login) and the CSRF rules for admin
//! POSTs are in [`crate::auth`].
//!
//! Nothing outside the page is loaded (no CDN), and no token or secret is put in the page or
//! the JSON: the snapshot's raw strings are redacted before they are escaped ([`clean`]), and
//! the finished page and JSON pass through the redactor once more.

pub(crate) mod chart;
pub(crate) mod clean;
pub(crate) mod data;
pub(crate) mod format;
pub(crate) mod level;
pub(crate) mod page;
pub(crate) mod sampler;
pub(crate) mod snapshot;
pub(crate) mod status;
pub(crate) mod watchdog;

use crate::auth::{Admin, AdminWrite, Refusal, guard, session};
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
pub(crate) fn csp(nonce: &str) -> String {
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
    parts: http::request::Parts,
) -> Response {
    let token = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(given) = token {
        let client = app.auth.client(&parts.headers, &parts.extensions);
        return login(&app, &given, client);
    }
    if let Err(r) = admin {
        return r.into_response();
    }
    let snap = snapshot_now(&app).await;
    let nonce = guard::random_hex(16);
    let refresh = app.cfg.dashboard.refresh.as_millis();
    let html = page::render(&snap, &nonce, app.auth.csrf(), refresh);
    let html = app.redactor.redact(&html);
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    protect(&mut resp, Some(csp(&nonce)));
    resp
}

/// Whether the cookie gets `Secure` (the bot is served over https).
fn secure(app: &AppState) -> bool {
    app.cfg
        .webhook
        .url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
}

/// The one-time login: a new session cookie and a redirect to the clean URL (the token
/// leaves the address bar at once). Wrong tokens count in the throttle; a refusal never
/// quotes what was sent.
fn login(app: &AppState, given: &str, client: crate::auth::Client) -> Response {
    if let Err(r) = app.auth.login(given, client) {
        let mut resp = r.into_response();
        protect(&mut resp, None);
        return resp;
    }
    let Some(sessions) = app.auth.sessions() else {
        return Refusal::Disabled.into_response();
    };
    let cookie = guard::session_cookie(
        &sessions.issue(session::now_ms()),
        secure(app),
        sessions.ttl().as_secs(),
    );
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/bot/dashboard"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    protect(&mut resp, None);
    resp
}

/// `POST /bot/dashboard/logout` (admin, CSRF): ends every dashboard session — here at once,
/// on the other instances sharing the store within [`session::EPOCH_REFRESH`] — and clears
/// this browser's cookie.
pub(crate) async fn logout(_: AdminWrite, State(app): State<AppState>) -> Response {
    let Some(sessions) = app.auth.sessions() else {
        return Refusal::Disabled.into_response();
    };
    let (code, text) = match sessions.revoke_all(session::now_ms()).await {
        Ok(()) => (
            StatusCode::OK,
            "logged out: every dashboard session has ended\n",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "logout: the store did not take the revocation");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "logged out here; the store did not take the revocation, so other instances \
                 accept old session cookies until they expire\n",
            )
        }
    };
    tracing::info!("dashboard sessions revoked (logout)");
    let mut resp = (code, text).into_response();
    if let Ok(v) = HeaderValue::from_str(&guard::clear_cookie(secure(&app))) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    protect(&mut resp, None);
    resp
}

/// `GET /bot/dashboard/data`: the snapshot as JSON.
pub(crate) async fn data(_: Admin, State(app): State<AppState>) -> Response {
    let snap = snapshot_now(&app).await;
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

/// The snapshot with every secret masked in its raw text, before any escaping.
async fn snapshot_now(app: &AppState) -> snapshot::Snapshot {
    let mut snap = data::collect(app).await;
    clean::redact(&mut snap, &app.redactor);
    snap
}
