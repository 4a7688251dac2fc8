//! The `[webhook]` keys both daemons read the same way, validated here once with every
//! problem collected ([`WebhookConfig::from_section`]): the public URL and path Telegram
//! delivers to, the secret, and what goes to every setWebhook — `max_connections`,
//! `allowed_updates`, `webhook.certificate` (a PEM file uploaded each time, for a self-signed
//! setup) and `webhook.ip_address` (a fixed IPv4 address Telegram delivers to instead of
//! resolving the URL's host). Each daemon reads its own other keys of the section itself.

use std::net::IpAddr;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{ConfigError, non_empty_secret, parse_public_url, section};
use crate::telegram::Certificate;

/// `[webhook]` as both daemons read it.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `PUBLIC_URL`: the base URL, checked ([`parse_public_url`]); `None` when not set.
    pub public_url: Option<Url>,
    /// `webhook.path`, starting with `/`.
    pub path: String,
    /// `WEBHOOK_SECRET` (1-256 of `A-Z a-z 0-9 _ -`, as Telegram takes); `None` when not set.
    pub secret: Option<SecretString>,
    /// `webhook.certificate`, read and checked.
    pub certificate: Option<Certificate>,
    /// `webhook.ip_address`.
    pub ip_address: Option<String>,
    /// setWebhook's `max_connections` (1-100).
    pub max_connections: u32,
    /// setWebhook's `allowed_updates` (empty: Telegram's default set).
    pub allowed_updates: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    public_url: String,
    path: String,
    secret: Option<SecretString>,
    #[serde(default)]
    certificate: Option<String>,
    #[serde(default)]
    ip_address: Option<String>,
    max_connections: u32,
    allowed_updates: Vec<String>,
}

impl WebhookConfig {
    /// Reads and checks `[webhook]` of `cfg`; every problem goes to `errs` (`None` when the
    /// section could not be read at all).
    pub fn from_section(cfg: &config::Config, errs: &mut Vec<ConfigError>) -> Option<Self> {
        let raw: Raw = match section(cfg, "webhook") {
            Ok(r) => r,
            Err(e) => {
                errs.push(e);
                return None;
            }
        };
        let public_url = keep(
            errs,
            (!raw.public_url.trim().is_empty())
                .then(|| parse_public_url(&raw.public_url, "webhook.public_url"))
                .transpose(),
        );
        let path = keep(
            errs,
            if raw.path.starts_with('/') {
                Ok(Some(raw.path.clone()))
            } else {
                Err(ConfigError::invalid(
                    "webhook.path",
                    format!("must start with '/', got {:?}", raw.path),
                ))
            },
        );
        let secret = keep(errs, secret(raw.secret));
        let max_connections = keep(
            errs,
            if (1..=100).contains(&raw.max_connections) {
                Ok(Some(raw.max_connections))
            } else {
                Err(ConfigError::invalid(
                    "webhook.max_connections",
                    format!("must be 1-100, got {}", raw.max_connections),
                ))
            },
        );
        let certificate = keep(errs, certificate(raw.certificate.as_deref()));
        let ip_address = keep(errs, ip_address(raw.ip_address.as_deref()));
        Some(WebhookConfig {
            public_url,
            path: path?,
            secret,
            certificate,
            ip_address,
            max_connections: max_connections?,
            allowed_updates: raw.allowed_updates,
        })
    }

    /// The URL Telegram delivers to: `PUBLIC_URL` + `webhook.path` (`None` without a public
    /// URL).
    pub fn url(&self) -> Option<Url> {
        let base = self.public_url.as_ref()?;
        Url::parse(&format!(
            "{}{}",
            base.as_str().trim_end_matches('/'),
            self.path
        ))
        .ok()
    }
}

fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<Option<T>, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok().flatten()
}

/// The secret as Telegram takes it (empty counts as unset).
fn secret(raw: Option<SecretString>) -> Result<Option<SecretString>, ConfigError> {
    let Some(s) = non_empty_secret(raw) else {
        return Ok(None);
    };
    let v = s.expose_secret();
    if v.len() > 256
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::invalid(
            "webhook.secret",
            "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram refuses others)",
        ));
    }
    Ok(Some(s))
}

/// The certificate at `path` (empty or absent: none), read and checked at start.
pub fn certificate(path: Option<&str>) -> Result<Option<Certificate>, ConfigError> {
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    Certificate::load(Path::new(path))
        .map(Some)
        .map_err(|e| ConfigError::invalid("webhook.certificate", e.to_string()))
}

/// The fixed IP address (empty or absent: none): an IPv4 address, as Telegram takes only
/// those.
pub fn ip_address(raw: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(raw) = raw.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    match raw.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Ok(Some(a.to_string())),
        Ok(IpAddr::V6(_)) => Err(ConfigError::invalid(
            "webhook.ip_address",
            "must be an IPv4 address (Telegram does not deliver to IPv6-only addresses)",
        )),
        Err(_) => Err(ConfigError::invalid(
            "webhook.ip_address",
            format!("must be an IPv4 address such as 203.0.113.7, got {raw:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_certificate_file_and_a_bad_ip_are_named() {
        assert_eq!(certificate(None).unwrap(), None);
        assert_eq!(certificate(Some("  ")).unwrap(), None);
        let e = certificate(Some("/nonexistent/self.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("webhook.certificate") && e.contains("/nonexistent/self.pem"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = certificate(key.to_str()).unwrap_err().to_string();
        assert!(e.contains("private key"), "{e}");
        let good = dir.path().join("self.pem");
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(certificate(good.to_str()).unwrap().is_some());

        assert_eq!(ip_address(Some("")).unwrap(), None);
        assert_eq!(
            ip_address(Some(" 203.0.113.7 ")).unwrap().as_deref(),
            Some("203.0.113.7")
        );
        for bad in ["example.com", "2001:db8::1", "1.2.3"] {
            let e = ip_address(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("webhook.ip_address"), "{bad}: {e}");
        }
    }
}
