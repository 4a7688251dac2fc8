//! SMS through Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded `To`, `From` (or `MessagingServiceSid`) and `Body`, HTTP Basic auth with the
//! account SID and the auth token. One message per recipient; the body is the subject line
//! only (≤ [`MAX_BODY`] characters: two SMS segments at most), since a page is read on a lock
//! screen. Critical incidents and their RESOLVED only, like e-mail.
//!
//! Answers: 2xx delivered; 429, 5xx and network errors are transient (the outbox retries);
//! any other 4xx (a bad number, wrong credentials) is [`AlertError::Rejected`] naming
//! Twilio's error code and message, and is not retried. A retried message is not sent again
//! to a recipient that already took it (remembered in this process).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, parse_http_url};
use telbot_shared::redact::Redactor;
use url::Url;

use super::{Message, Notifier, join_url, truncate};
use crate::error::AlertError;

/// The longest body sent: a subject line fits, and it stays within two SMS segments.
pub(crate) const MAX_BODY: usize = 300;

/// How many (message, recipient) deliveries are remembered so a retry skips them.
const REMEMBERED: usize = 512;

/// Who sends: a phone number or a Messaging Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// An E.164 number (`+15005550006`), sent as `From`.
    Number(String),
    /// A Messaging Service SID (`MG…`), sent as `MessagingServiceSid`.
    Service(String),
}

/// Validated Twilio settings (`alerts.twilio_*`, `alerts.sms_*`). `Debug` hides the token.
#[derive(Clone)]
pub struct TwilioSettings {
    /// `AC` + 32 hex digits.
    pub account_sid: String,
    /// The account's auth token: the credential.
    pub auth_token: SecretString,
    /// Who the SMS come from.
    pub from: Sender,
    /// E.164 numbers to write to, one SMS each.
    pub to: Vec<String>,
    /// API base, `https://api.twilio.com` (tests point it at a local stand-in).
    pub api_url: Url,
}

impl std::fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("api_url", &self.api_url.as_str())
            .finish_non_exhaustive()
    }
}

/// `+` and 8 to 15 digits.
pub(crate) fn is_e164(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or("");
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl TwilioSettings {
    /// Validates the settings as written; `None` when no auth token is set (channel off). The
    /// error names the key and never shows the token.
    pub fn parse(
        account_sid: &str,
        auth_token: Option<SecretString>,
        from: &str,
        to: Vec<String>,
        api_url: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let account_sid = account_sid.trim();
        let Some(auth_token) = auth_token else {
            if !account_sid.is_empty() || !to.is_empty() {
                return Err(ConfigError::invalid(
                    "alerts.twilio_auth_token",
                    "is required when alerts.twilio_account_sid or alerts.sms_to is set (env TWILIO_AUTH_TOKEN)",
                ));
            }
            return Ok(None);
        };
        if !is_sid(account_sid, "AC") {
            return Err(ConfigError::invalid(
                "alerts.twilio_account_sid",
                format!(
                    "is not a Twilio account SID (AC followed by 32 hex digits): {account_sid:?}"
                ),
            ));
        }
        let from = from.trim();
        let from = if is_e164(from) {
            Sender::Number(from.to_string())
        } else if is_sid(from, "MG") {
            Sender::Service(from.to_string())
        } else {
            return Err(ConfigError::invalid(
                "alerts.sms_from",
                format!(
                    "must be an E.164 number (+15005550006) or a Messaging Service SID (MG…): {from:?}"
                ),
            ));
        };
        if to.is_empty() {
            return Err(ConfigError::invalid(
                "alerts.sms_to",
                "needs at least one number when alerts.twilio_auth_token is set",
            ));
        }
        if let Some(bad) = to.iter().find(|n| !is_e164(n)) {
            return Err(ConfigError::invalid(
                "alerts.sms_to",
                format!("{bad:?} is not an E.164 number (+ and 8 to 15 digits)"),
            ));
        }
        let api_url = parse_http_url(api_url, "alerts.twilio_api_url")?;
        Ok(Some(TwilioSettings {
            account_sid: account_sid.to_string(),
            auth_token,
            from,
            to,
            api_url,
        }))
    }
}

/// The SMS text for `msg`: its subject (`[CRITICAL] shopbot: webhook stuck: 12 pending`, or
/// the `[RESOLVED] …` line), on one line, at most [`MAX_BODY`] characters.
pub(crate) fn body(msg: &Message) -> String {
    let one_line = msg.subject.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&one_line, MAX_BODY)
}

/// The form fields of one message to `to`, in the order Twilio documents them.
pub(crate) fn form(from: &Sender, to: &str, body: &str) -> Vec<(&'static str, String)> {
    let sender = match from {
        Sender::Number(n) => ("From", n.clone()),
        Sender::Service(s) => ("MessagingServiceSid", s.clone()),
    };
    vec![("To", to.to_string()), sender, ("Body", body.to_string())]
}

/// The SMS channel (`sms`).
pub(crate) struct SmsNotifier {
    client: reqwest::Client,
    endpoint: Url,
    settings: TwilioSettings,
    redactor: Redactor,
    /// Hashes of (recipient, message) already delivered, newest last.
    delivered: Mutex<VecDeque<u64>>,
}

impl SmsNotifier {
    /// A notifier for these settings; `client` carries the send timeout.
    pub(crate) fn new(client: reqwest::Client, settings: &TwilioSettings) -> Self {
        let path = format!("2010-04-01/Accounts/{}/Messages.json", settings.account_sid);
        SmsNotifier {
            client,
            endpoint: join_url(&settings.api_url, &path),
            redactor: Redactor::new([settings.auth_token.clone()]),
            settings: settings.clone(),
            delivered: Mutex::new(VecDeque::new()),
        }
    }

    fn key(to: &str, msg: &Message) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (to, &msg.incident, &msg.subject, &msg.text, msg.resolved).hash(&mut h);
        h.finish()
    }

    fn was_delivered(&self, key: u64) -> bool {
        self.delivered
            .lock()
            .map(|d| d.contains(&key))
            .unwrap_or(false)
    }

    fn remember(&self, key: u64) {
        if let Ok(mut d) = self.delivered.lock() {
            if d.len() >= REMEMBERED {
                d.pop_front();
            }
            d.push_back(key);
        }
    }

    async fn send_to(&self, to: &str, text: &str) -> Result<(), AlertError> {
        let r = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(
                &self.settings.account_sid,
                Some(self.settings.auth_token.expose_secret()),
            )
            .form(&form(&self.settings.from, to, text))
            .send()
            .await;
        let resp = r.map_err(|e| AlertError::send("sms", e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let raw = resp.text().await.unwrap_or_default();
        let problem = self.redactor.redact(&format!(
            "Twilio HTTP {} for {to}: {}",
            status.as_u16(),
            describe(&raw)
        ));
        let transient = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        if transient {
            Err(AlertError::send("sms", problem))
        } else {
            Err(AlertError::rejected("sms", problem))
        }
    }
}

/// Twilio's error answer (`{"code": 21211, "message": "…", "more_info": …}`) as
/// `error 21211: …`; any other body, shortened.
pub(crate) fn describe(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    match (v["code"].as_i64(), v["message"].as_str()) {
        (Some(code), Some(m)) => format!("error {code}: {}", truncate(m, 200)),
        (None, Some(m)) => truncate(m, 200),
        _ => truncate(body.trim(), 200),
    }
}

impl Notifier for SmsNotifier {
    fn name(&self) -> &str {
        "sms"
    }

    fn takes_warnings(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let text = body(msg);
            let (mut retry, mut refused) = (Vec::new(), Vec::new());
            for to in &self.settings.to {
                let key = Self::key(to, msg);
                if self.was_delivered(key) {
                    continue;
                }
                // A refusal for one number must not keep the others from being paged.
                match self.send_to(to, &text).await {
                    Ok(()) => self.remember(key),
                    Err(AlertError::Rejected { problem, .. }) => refused.push(problem),
                    Err(e) => retry.push(e.to_string()),
                }
            }
            // Anything worth retrying wins: the numbers already written to are skipped then.
            if !retry.is_empty() {
                retry.extend(refused);
                return Err(AlertError::send("sms", retry.join("; ")));
            }
            if !refused.is_empty() {
                return Err(AlertError::rejected("sms", refused.join("; ")));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Level;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    type Parsed = Result<Option<TwilioSettings>, ConfigError>;

    fn msg(subject: &str) -> Message {
        Message {
            subject: subject.into(),
            text: "long body".repeat(500),
            html: String::new(),
            level: Level::Critical,
            resolved: false,
            incident: "bot-down".into(),
        }
    }

    #[test]
    fn the_body_is_the_subject_on_one_line_and_short() {
        assert_eq!(
            body(&msg("[CRITICAL] shopbot: bot is\ndown")),
            "[CRITICAL] shopbot: bot is down"
        );
        let long = body(&msg(&format!("[CRITICAL] b: {}", "x".repeat(2000))));
        assert_eq!(long.chars().count(), MAX_BODY);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn the_sender_decides_from_or_messaging_service() {
        let f = form(
            &Sender::Number("+15005550006".into()),
            "+4915112345678",
            "hi",
        );
        assert_eq!(f[1], ("From", "+15005550006".to_string()));
        let s = format!("MG{}", "a".repeat(32));
        let f = form(&Sender::Service(s.clone()), "+4915112345678", "hi");
        assert_eq!(f[1], ("MessagingServiceSid", s));
    }

    #[test]
    fn settings_are_validated_naming_the_key_table() {
        let tok = || Some(SecretString::from("tok3nSECRETvalue".to_string()));
        let to = || vec!["+4915112345678".to_string()];
        let base = "https://api.twilio.com";
        let cases: Vec<(Parsed, Option<&str>)> = vec![
            (TwilioSettings::parse("", None, "", vec![], base), None),
            (
                TwilioSettings::parse(SID, tok(), "+15005550006", to(), base),
                None,
            ),
            (
                TwilioSettings::parse(SID, None, "", vec![], base),
                Some("twilio_auth_token"),
            ),
            (
                TwilioSettings::parse("AC12", tok(), "+15005550006", to(), base),
                Some("twilio_account_sid"),
            ),
            (
                TwilioSettings::parse(SID, tok(), "0151 123", to(), base),
                Some("sms_from"),
            ),
            (
                TwilioSettings::parse(SID, tok(), "+15005550006", vec![], base),
                Some("sms_to"),
            ),
            (
                TwilioSettings::parse(SID, tok(), "+15005550006", vec!["12345".into()], base),
                Some("sms_to"),
            ),
            (
                TwilioSettings::parse(SID, tok(), "+15005550006", to(), "ftp://x"),
                Some("twilio_api_url"),
            ),
        ];
        for (i, (r, bad_key)) in cases.into_iter().enumerate() {
            match (r, bad_key) {
                (Ok(_), None) => {}
                (Err(e), Some(k)) => {
                    let e = e.to_string();
                    assert!(e.contains(&format!("alerts.{k}")), "case {i}: {e}");
                    assert!(!e.contains("tok3nSECRETvalue"), "case {i}: {e}");
                }
                (r, k) => panic!("case {i}: expected error on {k:?}, got {:?}", r.map(|_| ())),
            }
        }
    }

    #[test]
    fn twilio_error_answers_name_the_code() {
        let body = r#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            describe(body),
            "error 21211: The 'To' number +1555 is not a valid phone number."
        );
        assert_eq!(
            describe("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
