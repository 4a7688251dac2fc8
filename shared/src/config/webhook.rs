//! The `[webhook]` keys both daemons read the same way and that go to every setWebhook:
//! `webhook.certificate` (a PEM file uploaded each time, for a self-signed setup) and
//! `webhook.ip_address` (a fixed IPv4 address Telegram delivers to instead of resolving the
//! URL's host). Validated here once, for bot-server and the watchdog alike.

use std::net::IpAddr;
use std::path::Path;

use super::ConfigError;
use crate::telegram::Certificate;

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
