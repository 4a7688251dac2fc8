//! The webhook exactly as the user set it. bot-server writes the settings it registered
//! (`kv` row [`KV_REGISTERED`], by the webhook leader after each successful setWebhook); the
//! watchdog restores those after a delete and on a wrong-URL repair — not its own
//! configuration, which may lag behind the bot's (an update kind only bot-server's
//! environment adds would otherwise stop being queued by Telegram, and be lost). Without a
//! record, what getWebhookInfo showed is kept.
//!
//! Also here: how to tell a *fixed* `ip_address` from the resolved one getWebhookInfo
//! always shows, and which registered settings Telegram no longer has.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};
use crate::telegram::{SetWebhook, WebhookInfo, same_allowed_updates};

/// The `kv` key of the record.
pub const KV_REGISTERED: &str = "bot.webhook_settings";

/// How long a DNS lookup of the webhook's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// What bot-server registered with its last successful setWebhook (the secret is never
/// stored here: both daemons have it from their configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The webhook URL.
    pub url: String,
    /// `max_connections`.
    pub max_connections: u32,
    /// `allowed_updates` (empty: Telegram's default set).
    pub allowed_updates: Vec<String>,
    /// The fixed IP address, if one was sent.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// A certificate was uploaded.
    #[serde(default)]
    pub certificate: bool,
    /// When (unix seconds).
    pub at: i64,
}

impl Registered {
    /// The record of `params` registered now.
    pub fn of(params: &SetWebhook) -> Registered {
        Registered {
            url: params.url.clone(),
            max_connections: params.max_connections,
            allowed_updates: params.allowed_updates.clone().unwrap_or_default(),
            ip_address: params.ip_address.clone(),
            certificate: params.certificate.is_some(),
            at: now(),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Writes the record.
pub async fn record(db: &Db, r: &Registered) -> Result<(), StoreError> {
    let text = serde_json::to_string(r).unwrap_or_default();
    db.kv_set(KV_REGISTERED, &text).await
}

/// The record, if bot-server wrote one (an unreadable one counts as none).
pub async fn load(db: &Db) -> Result<Option<Registered>, StoreError> {
    Ok(db
        .kv_get(KV_REGISTERED)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// The `ip_address` getWebhookInfo shows, when it is a fixed one: it differs from every
/// address the URL's host resolves to now. getWebhookInfo shows the resolved address for
/// every webhook, and passing that back as fixed would pin the webhook to today's address
/// (a redeploy that moves the host would then break delivery). A host that does not
/// resolve (in time) proves nothing: `None`.
pub async fn fixed_ip_shown(info: &WebhookInfo) -> Option<String> {
    let shown = info
        .ip_address
        .as_deref()?
        .parse::<std::net::IpAddr>()
        .ok()?;
    let url = url::Url::parse(&info.url).ok()?;
    let host = url.host_str()?.trim_matches(['[', ']']).to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return (ip != shown).then(|| shown.to_string());
    }
    let addrs = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .ok()?
        .ok()?;
    let mut any = false;
    for a in addrs {
        any = true;
        if a.ip() == shown {
            return None;
        }
    }
    any.then(|| shown.to_string())
}

/// The settings of `want` that Telegram's webhook (`info`) does not have, by name (empty:
/// it is as registered). The certificate counts only one way: a file that is configured but
/// not in use (Telegram cannot show which certificate it holds).
pub fn differences(info: &WebhookInfo, want: &SetWebhook) -> Vec<&'static str> {
    let mut out = Vec::new();
    if info.url != want.url {
        out.push("url");
    }
    if info
        .max_connections
        .is_some_and(|m| m != want.max_connections)
    {
        out.push("max_connections");
    }
    if let Some(ours) = &want.allowed_updates
        && !same_allowed_updates(info.allowed_updates.as_deref(), ours)
    {
        out.push("allowed_updates");
    }
    if let Some(ip) = &want.ip_address
        && info.ip_address.as_deref() != Some(ip.as_str())
    {
        out.push("ip_address");
    }
    if want.certificate.is_some() && !info.has_custom_certificate {
        out.push("certificate");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(url: &str, ip: Option<&str>) -> WebhookInfo {
        WebhookInfo {
            url: url.into(),
            ip_address: ip.map(str::to_string),
            max_connections: Some(40),
            allowed_updates: Some(vec!["message".into()]),
            ..WebhookInfo::default()
        }
    }

    #[tokio::test]
    async fn a_shown_address_is_fixed_only_when_the_host_resolves_elsewhere() {
        // A literal host: the shown address is fixed when it is another one.
        assert_eq!(
            fixed_ip_shown(&info("https://127.0.0.1:8443/webhook", Some("127.0.0.2"))).await,
            Some("127.0.0.2".into())
        );
        assert_eq!(
            fixed_ip_shown(&info("https://127.0.0.1:8443/webhook", Some("127.0.0.1"))).await,
            None
        );
        // A name: localhost resolves to loopback, so 127.0.0.1 is the resolved one.
        assert_eq!(
            fixed_ip_shown(&info("https://localhost:8443/webhook", Some("127.0.0.1"))).await,
            None
        );
        assert_eq!(
            fixed_ip_shown(&info(
                "https://localhost:8443/webhook",
                Some("198.51.100.4")
            ))
            .await,
            Some("198.51.100.4".into())
        );
        assert_eq!(fixed_ip_shown(&info("", None)).await, None);
        assert_eq!(
            fixed_ip_shown(&info("https://x/webhook", Some("<unknown>"))).await,
            None
        );
    }

    #[test]
    fn every_registered_setting_is_compared() {
        let want = SetWebhook::new("https://a/webhook", None, 40, &["message".into()]);
        assert!(differences(&info("https://a/webhook", Some("1.1.1.1")), &want).is_empty());
        let mut i = info("https://b/webhook", Some("1.1.1.1"));
        i.max_connections = Some(5);
        i.allowed_updates = None;
        assert_eq!(
            differences(&i, &want),
            ["url", "max_connections", "allowed_updates"]
        );
        let want = want
            .with_ip_address(Some("2.2.2.2".into()))
            .with_certificate(Some(
                crate::telegram::Certificate::from_pem(
                    "c.pem",
                    b"-----BEGIN CERTIFICATE-----\n".to_vec(),
                )
                .unwrap(),
            ));
        assert_eq!(
            differences(&info("https://a/webhook", Some("1.1.1.1")), &want),
            ["ip_address", "certificate"]
        );
    }
}
