//! setWebhook's URL and secret checks with Telegram's exact error texts:
//! parsing (`invalid webhook URL specified`), then the "verification" the
//! real server does before answering (scheme, port, reserved addresses).
//! Like Telegram, nothing here contacts the URL.

use std::net::IpAddr;

use url::{Host, Url};

use crate::api::ApiError;

/// Parse like `td::parse_url` with https as the default scheme.
pub(crate) fn parse(raw: &str) -> Result<Url, ApiError> {
    let invalid = || ApiError::bad_request("invalid webhook URL specified");
    let text = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&text).map_err(|_| invalid())?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid());
    }
    match url.host() {
        None => return Err(invalid()),
        Some(Host::Domain("")) => return Err(invalid()),
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err(invalid());
    }
    Ok(url)
}

/// The host as an IP address, if it is one or is `localhost`.
fn host_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a)),
        Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        }
        Host::Domain(_) => None,
    }
}

/// Whether the URL's host is 127.0.0.1 (any 127/8), `localhost` or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    host_ip(url).is_some_and(|ip| ip.is_loopback())
}

fn is_reserved(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.octets()[0] == 0
                || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => a.is_loopback() || a.is_unspecified() || a.is_multicast(),
    }
}

/// The checks the real server makes before `Webhook was set`. With
/// `allow_http_loopback`, loopback hosts behave like the server's `--local`
/// mode: http allowed, any port, the reserved-address check skipped.
pub(crate) fn verify(url: &Url, allow_http_loopback: bool) -> Result<(), ApiError> {
    let local = allow_http_loopback && is_loopback(url);
    if url.scheme() == "http" && !local {
        return Err(ApiError::bad_webhook(
            "An HTTPS URL must be provided for webhook",
        ));
    }
    if local {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    if ![80, 88, 443, 8443].contains(&port) {
        return Err(ApiError::bad_webhook(
            "Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    match host_ip(url) {
        Some(IpAddr::V6(a)) if !a.is_loopback() => {
            Err(ApiError::bad_webhook("IPv6-only addresses are not allowed"))
        }
        Some(ip) if is_reserved(ip) => {
            let shown = match ip {
                IpAddr::V6(_) => "::1".to_owned(),
                IpAddr::V4(a) => a.to_string(),
            };
            Err(ApiError::bad_webhook(&format!(
                "IP address {shown} is reserved"
            )))
        }
        _ => Ok(()),
    }
}

/// `ip_address`: an IPv4 address Telegram may deliver to (the reserved-address check is
/// skipped in the sim's loopback mode, like the URL's).
pub(crate) fn check_ip_address(raw: &str, allow_loopback: bool) -> Result<(), ApiError> {
    match raw.parse::<IpAddr>() {
        Err(_) => Err(ApiError::bad_webhook("Invalid IP address specified")),
        Ok(IpAddr::V6(_)) => Err(ApiError::bad_webhook("IPv6-only addresses are not allowed")),
        Ok(ip) if is_reserved(ip) && !(allow_loopback && ip.is_loopback()) => Err(
            ApiError::bad_webhook(&format!("IP address {raw} is reserved")),
        ),
        Ok(_) => Ok(()),
    }
}

/// `secret_token`: at most 256 characters of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_secret(secret: &str) -> Result<(), ApiError> {
    if secret.len() > 256 {
        return Err(ApiError::bad_request("secret token is too long"));
    }
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::bad_request(
            "secret token contains unallowed characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(r: Result<(), ApiError>) -> String {
        r.err().map(|e| e.description).unwrap_or_default()
    }

    #[test]
    fn scheme_defaults_to_https_and_bad_urls_are_invalid() {
        assert_eq!(
            parse("example.com/x")
                .map(|u| u.scheme().to_owned())
                .ok()
                .as_deref(),
            Some("https")
        );
        for bad in [
            "ftp://example.com/",
            "https://",
            "https://example.com:0/",
            "https://example.com:70000/",
        ] {
            assert_eq!(
                parse(bad).err().map(|e| e.description),
                Some("Bad Request: invalid webhook URL specified".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn verification_texts() {
        let v = |s: &str, allow| parse(s).and_then(|u| verify(&u, allow));
        assert_eq!(
            desc(v("http://example.com/", true)),
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
        );
        assert_eq!(
            desc(v("https://example.com:8080/", false)),
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
        );
        assert_eq!(
            desc(v("https://127.0.0.1/", false)),
            "Bad Request: bad webhook: IP address 127.0.0.1 is reserved"
        );
        assert!(v("http://127.0.0.1:9999/hook", true).is_ok());
        assert!(v("http://localhost:9999/hook", true).is_ok());
        assert!(v("http://[::1]:9999/hook", true).is_ok());
        assert!(v("https://bot.example.com:8443/hook", false).is_ok());
    }

    #[test]
    fn secret_rules() {
        assert!(check_secret("abc_DEF-123").is_ok());
        assert_eq!(
            desc(check_secret(&"a".repeat(257))),
            "Bad Request: secret token is too long"
        );
        assert_eq!(
            desc(check_secret("a b")),
            "Bad Request: secret token contains unallowed characters"
        );
    }
}
