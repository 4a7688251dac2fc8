//! PagerDuty Events API v2: `POST <events url>` with `{"routing_key", "event_action",
//! "dedup_key", "payload"}`. A critical incident triggers (its reminders and updates trigger
//! again with the same dedup key, which PagerDuty folds into the open alert); its RESOLVED
//! message resolves it. The dedup key is `<bot name>/<incident key>`, so one PagerDuty service
//! can take several bots. Warnings do not page. `watchdog test-alert` triggers and at once
//! resolves its own key (the routing key is proven, nothing stays open); a report that is not
//! critical (a passing drill) resolves its key instead of paging.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret, parse_http_url};
use url::Url;

use super::{Message, Notifier, http_error, truncate};
use crate::checks::keep;
use crate::config::section::AlertsSection;
use crate::error::AlertError;
use crate::model::{Level, TEST_INCIDENT};

/// The PagerDuty channel. The routing key is the credential and is never printed.
pub(crate) struct PagerDutyNotifier {
    client: reqwest::Client,
    url: url::Url,
    routing_key: SecretString,
    source: String,
}

impl PagerDutyNotifier {
    /// A notifier sending events for `bot_name`'s incidents with this integration key.
    pub(crate) fn new(
        client: reqwest::Client,
        url: url::Url,
        routing_key: SecretString,
        bot_name: &str,
    ) -> Self {
        PagerDutyNotifier {
            client,
            url,
            routing_key,
            source: bot_name.to_string(),
        }
    }

    /// The events for `msg`, in order (the routing key is added when sending).
    pub(crate) fn events(&self, msg: &Message) -> Vec<serde_json::Value> {
        if msg.incident == TEST_INCIDENT {
            let mut resolve = msg.clone();
            resolve.resolved = true;
            return vec![self.event(msg), self.event(&resolve)];
        }
        if !msg.resolved && msg.level != Level::Critical {
            let mut resolve = msg.clone();
            resolve.resolved = true;
            return vec![self.event(&resolve)];
        }
        vec![self.event(msg)]
    }

    /// The one event for `msg`: resolve when it is resolved, else trigger.
    pub(crate) fn event(&self, msg: &Message) -> serde_json::Value {
        let dedup_key = format!("{}/{}", self.source, msg.incident);
        if msg.resolved {
            return serde_json::json!({
                "event_action": "resolve",
                "dedup_key": dedup_key,
            });
        }
        let severity = match msg.level {
            Level::Critical => "critical",
            Level::Warning => "warning",
            Level::Ok => "info",
        };
        serde_json::json!({
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": truncate(&msg.subject, 1024),
                "source": self.source,
                "severity": severity,
                "custom_details": { "text": truncate(&msg.text, 8000) },
            },
        })
    }
}

impl Notifier for PagerDutyNotifier {
    fn name(&self) -> &str {
        "pagerduty"
    }

    fn takes_warnings(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            for mut body in self.events(msg) {
                body["routing_key"] =
                    serde_json::Value::String(self.routing_key.expose_secret().to_string());
                let r = self.client.post(self.url.as_str()).json(&body).send().await;
                http_error("pagerduty", r).await?;
            }
            Ok(())
        })
    }
}

/// PagerDuty's settings: `alerts.pagerduty_routing_key` (the channel is on when it is set) and
/// `alerts.pagerduty_url`.
#[derive(Debug, Clone)]
pub struct PagerDutySettings {
    /// The Events API v2 integration (routing) key (a secret).
    pub routing_key: SecretString,
    /// The Events API v2 endpoint (tests point it at a local server).
    pub url: Url,
}

impl PagerDutySettings {
    /// `Some(None)` when no key is set; `None` with the problem in `errs`.
    pub(crate) fn from_section(
        s: &AlertsSection,
        errs: &mut Vec<ConfigError>,
    ) -> Option<Option<Self>> {
        let url = keep(
            errs,
            parse_http_url(&s.pagerduty_url, "alerts.pagerduty_url"),
        )?;
        Some(
            non_empty_secret(s.pagerduty_routing_key.clone())
                .map(|routing_key| PagerDutySettings { routing_key, url }),
        )
    }
}
