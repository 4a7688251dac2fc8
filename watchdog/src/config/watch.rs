//! `[watchdog.tls]` (the certificate Telegram has to trust) and `[watchdog.deploy]` (the
//! verification of a new deploy), read from the `[watchdog]` section beside the rest.

use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use telbot_shared::config::ConfigError;

use super::build::keep;

#[derive(Debug, Deserialize)]
pub(crate) struct WatchSection {
    pub(crate) tls: TlsSection,
    pub(crate) deploy: DeploySection,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TlsSection {
    pub(crate) warn_days: u32,
    pub(crate) critical_days: u32,
    #[serde(with = "humantime_serde")]
    pub(crate) every: Duration,
    #[serde(default)]
    pub(crate) connect: String,
    #[serde(default)]
    pub(crate) ca_file: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeploySection {
    pub(crate) verify: bool,
    #[serde(with = "humantime_serde")]
    pub(crate) verify_timeout: Duration,
}

/// The certificate check's settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// A certificate expiring within this many days is a warning.
    pub warn_days: u32,
    /// … within this many, critical.
    pub critical_days: u32,
    /// The certificate is read again at most this often; runs in between judge the reading
    /// kept in the store (so a cron `watchdog check` does not handshake every minute).
    pub every: Duration,
    /// `host:port` to connect to instead of PUBLIC_URL's (a load balancer's address, a test
    /// listener); SNI and the name check stay PUBLIC_URL's host.
    pub connect: Option<String>,
    /// Extra trusted roots (`watchdog.tls.ca_file`), beside the public ones.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// The post-deploy verification the daemon runs by itself.
#[derive(Debug, Clone, Copy)]
pub struct DeployWatchConfig {
    /// Watch for new deploys at all.
    pub verify: bool,
    /// A new deploy must be healthy within this long after it was noticed.
    pub timeout: Duration,
}

impl Default for TlsConfig {
    /// `config/default.toml`'s values (the loaded configuration always sets them).
    fn default() -> Self {
        TlsConfig {
            warn_days: 14,
            critical_days: 3,
            every: Duration::from_secs(3600),
            connect: None,
            extra_roots: Vec::new(),
        }
    }
}

impl Default for DeployWatchConfig {
    /// `config/default.toml`'s values (the loaded configuration always sets them).
    fn default() -> Self {
        DeployWatchConfig {
            verify: true,
            timeout: Duration::from_secs(120),
        }
    }
}

pub(crate) fn build(
    s: WatchSection,
    errs: &mut Vec<ConfigError>,
) -> Option<(TlsConfig, DeployWatchConfig)> {
    let t = s.tls;
    let mut ok = true;
    let mut bad = |key: &str, why: String| {
        ok = false;
        keep(errs, Err::<(), _>(ConfigError::invalid(key, why)));
    };
    if t.critical_days > t.warn_days {
        bad(
            "watchdog.tls.critical_days",
            format!(
                "must not be more than watchdog.tls.warn_days ({})",
                t.warn_days
            ),
        );
    }
    if t.every.is_zero() {
        bad("watchdog.tls.every", "must be more than 0".into());
    }
    let connect = t.connect.trim().to_string();
    let connect = if connect.is_empty() {
        None
    } else {
        let port_ok = connect
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            bad(
                "watchdog.tls.connect",
                format!("must be host:port, got {connect:?}"),
            );
        }
        Some(connect)
    };
    let mut extra_roots = Vec::new();
    let ca = t.ca_file.trim();
    if !ca.is_empty() {
        match std::fs::read(ca) {
            Ok(pem) => {
                extra_roots = CertificateDer::pem_slice_iter(&pem)
                    .filter_map(Result::ok)
                    .collect();
                if extra_roots.is_empty() {
                    bad(
                        "watchdog.tls.ca_file",
                        format!("{ca} holds no PEM certificate"),
                    );
                }
            }
            Err(e) => bad("watchdog.tls.ca_file", format!("cannot read {ca}: {e}")),
        }
    }
    if s.deploy.verify_timeout.is_zero() {
        bad(
            "watchdog.deploy.verify_timeout",
            "must be more than 0".into(),
        );
    }
    ok.then_some((
        TlsConfig {
            warn_days: t.warn_days,
            critical_days: t.critical_days,
            every: t.every,
            connect,
            extra_roots,
        },
        DeployWatchConfig {
            verify: s.deploy.verify,
            timeout: s.deploy.verify_timeout,
        },
    ))
}

#[cfg(test)]
mod tests {
    use crate::config::WatchdogConfig;

    fn load(pairs: &[(&str, &str)]) -> Result<WatchdogConfig, String> {
        let mut env: telbot_shared::config::EnvMap = [
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
            ("PUBLIC_URL", "https://bot.example"),
            ("DATA_DIR", "/tmp/wd-watch-cfg-test"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        WatchdogConfig::load(None, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn the_certificate_and_deploy_settings_default_and_bad_ones_name_their_key() {
        let c = load(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.tls.warn_days, c.tls.critical_days), (14, 3));
        assert_eq!(c.tls.every.as_secs(), 3600);
        assert!(c.tls.connect.is_none() && c.tls.extra_roots.is_empty());
        assert!(c.deploy.verify);
        assert_eq!(c.deploy.timeout.as_secs(), 120);
        for (key, value, says) in [
            (
                "TELBOT__WATCHDOG__TLS__CRITICAL_DAYS",
                "30",
                "watchdog.tls.critical_days",
            ),
            ("TELBOT__WATCHDOG__TLS__EVERY", "0s", "watchdog.tls.every"),
            (
                "TELBOT__WATCHDOG__TLS__CONNECT",
                "no-port",
                "watchdog.tls.connect",
            ),
            (
                "TELBOT__WATCHDOG__TLS__CA_FILE",
                "/nonexistent/ca.pem",
                "watchdog.tls.ca_file",
            ),
            (
                "TELBOT__WATCHDOG__DEPLOY__VERIFY_TIMEOUT",
                "0s",
                "watchdog.deploy.verify_timeout",
            ),
        ] {
            let e = load(&[(key, value)]).map(|_| ()).expect_err(key);
            assert!(e.contains(says), "{key}: {e}");
        }
        let c = load(&[("TELBOT__WATCHDOG__TLS__CONNECT", "10.0.0.7:8443")]);
        assert_eq!(
            c.ok().and_then(|c| c.tls.connect).as_deref(),
            Some("10.0.0.7:8443")
        );
    }
}
