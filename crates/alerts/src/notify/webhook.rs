//! A generic webhook: `POST <alerts.webhook_url>` with a JSON body made from
//! `alerts.webhook_template`, for the tools that take a JSON POST (Opsgenie, Mattermost, an
//! incident bot, a home-grown pager). Placeholders are replaced by JSON-escaped text, so a
//! template writes them inside quotes: `{"text": "{{subject}}"}`.
//!
//! | placeholder | value |
//! |---|---|
//! | `{{subject}}` | the subject line (`[CRITICAL] shopbot: …`) |
//! | `{{body}}` | the plain-text message |
//! | `{{severity}}` | `critical`, `warning` or `normal` (the incident's level) |
//! | `{{status}}` | `firing` or `resolved` |
//! | `{{resolved}}` | `true` or `false`, bare (write it without quotes) |
//! | `{{incident}}` | the incident key (`bot-down`, …) |
//! | `{{bot}}` | `alerts.bot_name` |

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret};

use super::{Message, Notifier, http_error, truncate};
use crate::checks::{checked_url, keep};
use crate::config::section::AlertsSection;
use crate::error::AlertError;

/// The template used when `alerts.webhook_template` is empty.
pub(crate) const DEFAULT_TEMPLATE: &str = r#"{"subject": "{{subject}}", "severity": "{{severity}}", "status": "{{status}}", "resolved": {{resolved}}, "incident": "{{incident}}", "bot": "{{bot}}", "body": "{{body}}"}"#;

/// The placeholders a template may use.
pub(crate) const PLACEHOLDERS: &[&str] = &[
    "subject", "body", "severity", "status", "resolved", "incident", "bot",
];

/// Escapes text for the inside of a JSON string (no surrounding quotes).
pub(crate) fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Fills `template` for `msg` from `bot`. Unknown `{{…}}` are left as they are (the config
/// check refuses them before any message is sent).
pub(crate) fn fill(template: &str, msg: &Message, bot: &str) -> String {
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "subject" => json_escape(&msg.subject),
            "body" => json_escape(&truncate(&msg.text, 30_000)),
            "severity" => msg.level.as_str().to_string(),
            "status" => if msg.resolved { "resolved" } else { "firing" }.to_string(),
            "resolved" => msg.resolved.to_string(),
            "incident" => json_escape(&msg.incident),
            "bot" => json_escape(bot),
            _ => return None,
        })
    };
    let mut out = String::with_capacity(template.len() + msg.text.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a template: only known placeholders, and a message with quotes, newlines and
/// backslashes in every field still makes a JSON document. The error is for a person.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("has a {{ without its }}".into());
        };
        let name = after[..end].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "has an unknown placeholder {{{{{name}}}}} (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    let tricky = "a \"quoted\" \\ back\nslash\t<tag> é";
    let msg = Message {
        subject: tricky.into(),
        text: tricky.into(),
        html: String::new(),
        level: crate::model::Level::Critical,
        resolved: false,
        incident: tricky.into(),
    };
    let body = fill(template, &msg, tricky);
    serde_json::from_str::<serde_json::Value>(&body)
        .map(|_| ())
        .map_err(|e| format!("does not make a JSON document ({e}); write placeholders inside quotes, e.g. \"{{{{subject}}}}\""))
}

/// The generic webhook channel. The URL may hold a credential and is never printed.
pub(crate) struct WebhookNotifier {
    client: reqwest::Client,
    url: SecretString,
    template: String,
    bot: String,
}

impl WebhookNotifier {
    /// A notifier posting `template` (empty: [`DEFAULT_TEMPLATE`]) to `url`.
    pub(crate) fn new(
        client: reqwest::Client,
        url: SecretString,
        template: &str,
        bot: &str,
    ) -> Self {
        let template = match template.trim() {
            "" => DEFAULT_TEMPLATE.to_string(),
            t => t.to_string(),
        };
        WebhookNotifier {
            client,
            url,
            template,
            bot: bot.to_string(),
        }
    }
}

impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        "webhook"
    }

    fn takes_warnings(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let body = fill(&self.template, msg, &self.bot);
            let r = self
                .client
                .post(self.url.expose_secret())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await;
            http_error("webhook", r).await
        })
    }
}

/// The generic webhook's settings: `alerts.webhook_url` (a secret: it may hold a token; the
/// channel is on when it is set) and `alerts.webhook_template`.
#[derive(Debug, Clone)]
pub struct GenericWebhookSettings {
    /// Where to POST.
    pub url: SecretString,
    /// The body with `{{placeholders}}`, checked (empty: [`DEFAULT_TEMPLATE`]).
    pub template: String,
}

impl GenericWebhookSettings {
    /// `Some(None)` when no URL is set; `None` with the problems in `errs`.
    pub(crate) fn from_section(
        s: &AlertsSection,
        errs: &mut Vec<ConfigError>,
    ) -> Option<Option<Self>> {
        let url = keep(
            errs,
            checked_url(non_empty_secret(s.webhook_url.clone()), "webhook_url"),
        );
        let template = s.webhook_template.trim().to_string();
        if !template.is_empty()
            && let Err(p) = check_template(&template)
        {
            errs.push(ConfigError::invalid("alerts.webhook_template", p));
            return None;
        }
        Some(url?.map(|url| GenericWebhookSettings { url, template }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msg(resolved: bool) -> Message {
        Message {
            subject: "[CRITICAL] b: \"x\"\nline".into(),
            text: "body \\ with\ttab".into(),
            html: String::new(),
            level: crate::model::Level::Critical,
            resolved,
            incident: "bot-down".into(),
        }
    }

    #[test]
    fn the_default_template_makes_json_with_every_field() {
        let v: serde_json::Value =
            serde_json::from_str(&fill(DEFAULT_TEMPLATE, &msg(false), "shop\"bot")).unwrap();
        assert_eq!(v["subject"], "[CRITICAL] b: \"x\"\nline");
        assert_eq!(v["body"], "body \\ with\ttab");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["resolved"], false);
        assert_eq!(v["incident"], "bot-down");
        assert_eq!(v["bot"], "shop\"bot");
        let v: serde_json::Value =
            serde_json::from_str(&fill(DEFAULT_TEMPLATE, &msg(true), "b")).unwrap();
        assert_eq!(
            (v["status"].clone(), v["resolved"].clone()),
            ("resolved".into(), true.into())
        );
    }

    #[test]
    fn templates_are_checked_table() {
        for (t, ok) in [
            (DEFAULT_TEMPLATE, true),
            (r#"{"text": "{{ subject }}", "n": {{resolved}}}"#, true),
            (r#"{"text": {{subject}}}"#, false),
            (r#"{"text": "{{title}}"}"#, false),
            (r#"{"text": "{{subject"}"#, false),
            ("not json", false),
        ] {
            assert_eq!(
                check_template(t).is_ok(),
                ok,
                "{t}: {:?}",
                check_template(t)
            );
        }
    }
}
