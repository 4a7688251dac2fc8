//! The browser side of admin auth: the dashboard's session cookie and the CSRF rules for
//! admin POSTs.
//!
//! - `GET /bot/dashboard?token=<ADMIN_TOKEN>` is a one-time login: it sets an HttpOnly,
//!   SameSite=Strict session cookie (signed and expiring, see [`super::session`]) and
//!   redirects to the clean URL, so the token does not stay in the address bar.
//! - Browsers replay Basic credentials and cookies on their own, so an admin POST that
//!   authenticated with either must carry `X-CSRF-Token` equal to the token the page embeds
//!   (derived from the admin token, so every instance knows it). Bearer callers (the
//!   watchdog, curl) are not CSRF-prone and need none.
//! - Any admin POST with an `Origin` (or `Sec-Fetch-Site`) that is not this site is refused.

use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "telbot_session";
/// The header the dashboard's buttons send.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How an admin request proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`: set by a program, never replayed by a browser.
    Bearer,
    /// `Authorization: Basic`: a browser may replay it on a cross-site request.
    Basic,
    /// The dashboard's session cookie.
    Session,
}

impl Via {
    /// Whether a browser could have sent these credentials on its own.
    pub fn ambient(self) -> bool {
        self != Via::Bearer
    }
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut out = String::with_capacity(n * 2);
    for _ in 0..n {
        let b: u8 = rand::random();
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Constant-time equality of two strings.
pub(crate) fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name`, if sent.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().trim().to_string())
}

/// The `Set-Cookie` value for a new session: HttpOnly, SameSite=Strict, Secure over https,
/// kept by the browser for `max_age_s`.
pub(crate) fn session_cookie(value: &str, secure: bool, max_age_s: u64) -> String {
    Cookie::build((COOKIE, value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build()
        .to_string()
        + &format!("; Max-Age={max_age_s}")
}

/// The `Set-Cookie` value that makes the browser drop the session cookie (logout).
pub(crate) fn clear_cookie(secure: bool) -> String {
    session_cookie("", secure, 0)
}

/// Whether the request comes from this site, as far as the browser says: no `Origin` (not a
/// browser, or a same-origin GET) or one whose host is the `Host` the request was sent to;
/// `Sec-Fetch-Site` absent, `same-origin` or `none`.
pub(crate) fn same_site(headers: &HeaderMap) -> bool {
    let text = |h| {
        headers
            .get(h)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return true;
    };
    let Some(host) = text(header::HOST.as_str()) else {
        return false;
    };
    let forwarded = text("x-forwarded-host");
    match origin.split_once("://") {
        Some(("http" | "https", rest)) => {
            let rest = rest.trim_end_matches('/');
            rest.eq_ignore_ascii_case(host)
                || forwarded.is_some_and(|f| rest.eq_ignore_ascii_case(f))
        }
        _ => false,
    }
}

/// Why a POST was refused, or `None` when it may go ahead.
pub(crate) fn write_refusal(headers: &HeaderMap, via: Via, csrf: &str) -> Option<&'static str> {
    if !same_site(headers) {
        return Some("cross-site request refused\n");
    }
    if via.ambient() {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(given, csrf) {
            return Some(
                "missing or wrong X-CSRF-Token (send the token shown in the dashboard page, or use a Bearer token)\n",
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                *k,
                v.parse()
                    .unwrap_or_else(|_| http::HeaderValue::from_static("")),
            );
        }
        m
    }

    #[test]
    fn cookies_are_found_among_others() {
        let m = h(&[("cookie", "a=1; telbot_session=abc ; b=2")]);
        assert_eq!(cookie(&m, COOKIE).as_deref(), Some("abc"));
        assert_eq!(
            cookie(&h(&[("cookie", "x_telbot_session=1")]), COOKIE),
            None
        );
        assert!(session_cookie("v", true, 60).contains("; Secure"));
        assert!(!session_cookie("v", false, 60).contains("Secure"));
        assert!(session_cookie("v", false, 60).contains("Path=/"));
        assert!(session_cookie("v", false, 60).contains("HttpOnly; SameSite=Strict"));
        assert!(session_cookie("v", false, 60).contains("Max-Age=60"));
        let gone = clear_cookie(true);
        assert!(
            gone.starts_with("telbot_session=;") && gone.contains("Max-Age=0"),
            "{gone}"
        );
    }

    #[test]
    fn only_this_site_may_post() {
        assert!(same_site(&h(&[])));
        assert!(same_site(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_site(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_site(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null")
        ])));
        assert!(!same_site(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(same_site(&h(&[("sec-fetch-site", "same-origin")])));
    }

    #[test]
    fn csrf_is_required_for_browser_credentials_only() {
        let none = h(&[]);
        assert!(write_refusal(&none, Via::Bearer, "t0k").is_none());
        assert!(write_refusal(&none, Via::Basic, "t0k").is_some());
        assert!(write_refusal(&none, Via::Session, "t0k").is_some());
        assert!(write_refusal(&h(&[("x-csrf-token", "t0k")]), Via::Basic, "t0k").is_none());
        assert!(write_refusal(&h(&[("x-csrf-token", "bad")]), Via::Session, "t0k").is_some());
        let cross = h(&[("host", "a:1"), ("origin", "http://b:1")]);
        assert!(write_refusal(&cross, Via::Bearer, "t0k").is_some());
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
    }
}
