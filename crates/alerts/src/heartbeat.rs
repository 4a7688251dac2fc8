//! Who watches the watchdog: pings a healthchecks.io-compatible URL around each run —
//! `<url>/start` before, `<url>` after a good run, `<url>/fail` after a bad one.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::AlertError;
use crate::notify::truncate;

/// The heartbeat client. The URL is a credential (anyone holding it can ping) and is never printed.
#[derive(Clone)]
pub struct Heartbeat {
    client: reqwest::Client,
    url: SecretString,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Heartbeat(..)")
    }
}

impl Heartbeat {
    /// A heartbeat for `url`, each ping bounded by `timeout`.
    pub fn new(url: SecretString, timeout: Duration) -> Result<Self, AlertError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| AlertError::Setup(format!("heartbeat client: {e}")))?;
        Ok(Heartbeat { client, url })
    }

    /// From config, when a heartbeat URL is set.
    pub fn from_config(cfg: &crate::config::AlertsConfig) -> Result<Option<Self>, AlertError> {
        cfg.heartbeat_url
            .clone()
            .map(|u| Heartbeat::new(u, cfg.heartbeat_timeout))
            .transpose()
    }

    /// A run started.
    pub async fn ping_start(&self) -> Result<(), AlertError> {
        self.ping("/start", "").await
    }

    /// A run finished well; `body` (e.g. a summary) is shown by healthchecks.io.
    pub async fn ping_success(&self, body: &str) -> Result<(), AlertError> {
        self.ping("", body).await
    }

    /// A run failed.
    pub async fn ping_fail(&self, body: &str) -> Result<(), AlertError> {
        self.ping("/fail", body).await
    }

    async fn ping(&self, suffix: &str, body: &str) -> Result<(), AlertError> {
        let base = self.url.expose_secret().trim().trim_end_matches('/');
        let r = self
            .client
            .post(format!("{base}{suffix}"))
            .body(truncate(body, 10_000))
            .send()
            .await;
        let resp = r.map_err(|e| AlertError::send("heartbeat", e.without_url().to_string()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(AlertError::send(
                "heartbeat",
                format!("HTTP {}", resp.status().as_u16()),
            ))
        }
    }
}
