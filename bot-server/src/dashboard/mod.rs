//! The live dashboard: `GET /bot/dashboard` (the page) and `GET /bot/dashboard/data` (the
//! JSON its script polls), both admin-only.
//!
//! - [`data`]: the [`data::Snapshot`] both are made from.
//! - [`page`]: server-rendered HTML with inline CSS and script under a CSP nonce.
//! - [`level`]: the status-light rules.
//! - [`chart`]: inline-SVG path data for the one-hour charts.
//! - [`history`]: the fixed-size ring behind the charts and its sampler task.
//! - [`watchdog`]: the watchdog's recent actions and alerts from the shared store.
//! - [`guard`]: the session cookie (one-time `?token=` login) and CSRF rules for admin POSTs.
//!
//! Nothing outside the page is loaded (no CDN), and no token or secret is put in the page or
//! the JSON: both are passed through the config's redactor before they leave.

pub mod chart;
pub mod data;
pub mod guard;
pub mod history;
pub mod level;
pub mod page;
pub mod watchdog;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use telbot_shared::redact::Redactor;

use crate::config::DashboardConfig;
use crate::routes::{Refusal, check_admin};
use crate::state::AppState;

/// The dashboard's per-process state.
#[derive(Debug)]
pub struct Dashboard {
    /// Sent by the page's buttons in `X-CSRF-Token`; random per process.
    csrf: String,
    /// The session cookie's value after a `?token=` login; random per process.
    session: String,
    /// Masks every configured secret in what the dashboard sends.
    redactor: Redactor,
    /// The last hour of figures for the charts.
    pub history: history::History,
}

impl Dashboard {
    /// Fresh tokens and an empty ring.
    pub fn new(cfg: &DashboardConfig, secrets: Vec<secrecy::SecretString>) -> Dashboard {
        Dashboard {
            csrf: guard::random_hex(32),
            session: guard::random_hex(32),
            redactor: Redactor::new(secrets),
            history: history::History::new(cfg.history_interval),
        }
    }

    /// The CSRF token the page embeds.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether the request carries this process's session cookie.
    pub fn has_session(&self, headers: &HeaderMap) -> bool {
        guard::cookie(headers, guard::COOKIE).is_some_and(|v| guard::same(v, &self.session))
    }
}

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
    State(app): State<AppState>,
    headers: HeaderMap,
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
    if let Err(r) = check_admin(&app, &headers) {
        return r.into_response();
    }
    let snap = data::collect(&app).await;
    let nonce = guard::random_hex(16);
    let refresh = app.cfg.dashboard.refresh.as_millis();
    let html = page::render(&snap, &nonce, app.dashboard.csrf(), refresh);
    let html = app.dashboard.redactor.redact(&html);
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    protect(&mut resp, Some(csp(&nonce)));
    resp
}

fn login(app: &AppState, given: &str) -> Response {
    let Some(want) = &app.cfg.admin_token else {
        return Refusal::Disabled.into_response();
    };
    if !guard::same(given, want.expose_secret()) {
        return Refusal::Unauthorized.into_response();
    }
    let secure = app
        .cfg
        .webhook_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/bot/dashboard"));
    if let Ok(v) = HeaderValue::from_str(&guard::session_cookie(&app.dashboard.session, secure)) {
        h.insert(header::SET_COOKIE, v);
    }
    protect(&mut resp, None);
    resp
}

/// `GET /bot/dashboard/data`: the snapshot as JSON.
pub(crate) async fn data(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin(&app, &headers) {
        return r.into_response();
    }
    let snap = data::collect(&app).await;
    let body = match serde_json::to_string(&snap) {
        Ok(s) => app.dashboard.redactor.redact(&s),
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
