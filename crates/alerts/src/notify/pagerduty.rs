//! PagerDuty Events API v2: `POST <events url>` with `{"routing_key", "event_action",
//! "dedup_key", "payload"}`. A critical incident triggers (its reminders and updates trigger
//! again with the same dedup key, which PagerDuty folds into the open alert); its RESOLVED
//! message resolves it. The dedup key is `<bot name>/<incident key>`, so one PagerDuty service
//! can take several bots. Warnings do not page. `watchdog test-alert` triggers and at once
//! resolves its own key (the routing key is proven, nothing stays open); a report that is not
//! critical (a passing drill) resolves its key instead of paging.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::{Message, Notifier, http_error, truncate};
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
            Level::Normal => "info",
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
