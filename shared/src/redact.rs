//! Keeping secrets out of text: every string that leaves the Telegram client (errors, logs)
//! passes through a [`Redactor`] that knows the bot token and other secrets.

use secrecy::{ExposeSecret, SecretString};

/// What secrets are replaced by.
pub const MASK: &str = "[REDACTED]";

/// Replaces known secrets in text. Cheap to clone.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: std::sync::Arc<Vec<SecretString>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|s| s.expose_secret().len() >= 4)
            .collect();
        Redactor {
            secrets: std::sync::Arc::new(secrets),
        }
    }

    /// `text` with every known secret (and, for bot tokens, the part after the colon) masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            let s = s.expose_secret();
            if out.contains(s) {
                out = out.replace(s, MASK);
            }
            // A token's secret half alone is still a secret (e.g. URL-encoded forms keep it).
            if let Some((_, tail)) = s.split_once(':')
                && tail.len() >= 8
                && out.contains(tail)
            {
                out = out.replace(tail, MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_tokens_and_their_secret_half() {
        let r = Redactor::new([SecretString::from("123456:AAAbbbCCCddd".to_string())]);
        assert_eq!(
            r.redact("error for url (http://h/bot123456:AAAbbbCCCddd/getMe)"),
            "error for url (http://h/bot[REDACTED]/getMe)"
        );
        assert_eq!(r.redact("x AAAbbbCCCddd y"), "x [REDACTED] y");
    }

    #[test]
    fn leaves_clean_text_alone() {
        let r = Redactor::new([SecretString::from("supersecret".to_string())]);
        assert_eq!(r.redact("all good"), "all good");
    }
}
