//! Keeping secrets out of text: every string that leaves the Telegram client (errors, logs)
//! passes through a [`Redactor`] that knows the bot token and other secrets.
//!
//! A secret is masked as written and in its percent-encoded forms (a URL or form that quoted
//! it: every byte but ASCII letters and digits encoded; the `application/x-www-form-urlencoded`
//! form; `encodeURIComponent`'s; each with upper- and lowercase hex). It is matched in *raw*
//! text: redact before escaping text for HTML or JSON, where `&`, `<` or `"` change shape.

use secrecy::{ExposeSecret, SecretString};

/// What secrets are replaced by.
pub const MASK: &str = "[REDACTED]";

/// Replaces known secrets in text. Cheap to clone.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Each secret, then its percent-encoded forms (computed once, here).
    secrets: std::sync::Arc<Vec<(SecretString, Vec<SecretString>)>>,
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
            .map(|s| {
                let forms = encoded_forms(s.expose_secret())
                    .into_iter()
                    .map(SecretString::from)
                    .collect();
                (s, forms)
            })
            .collect();
        Redactor {
            secrets: std::sync::Arc::new(secrets),
        }
    }

    /// Whether it knows no secret (then [`Self::redact`] changes nothing).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret (and, for bot tokens, the part after the colon) masked,
    /// also percent-encoded.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (s, forms) in self.secrets.iter() {
            let s = s.expose_secret();
            for form in std::iter::once(s).chain(forms.iter().map(ExposeSecret::expose_secret)) {
                if out.contains(form) {
                    out = out.replace(form, MASK);
                }
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

/// `s` with every byte outside ASCII letters, digits and `keep` as `%XX` (`+` for a space
/// when `plus`).
fn percent(s: &str, keep: &str, plus: bool, upper: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else if plus && b == b' ' {
            out.push('+');
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The percent-encoded forms of `s` that differ from it.
fn encoded_forms(s: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for upper in [true, false] {
        for (keep, plus) in [("", false), ("*-._", true), ("-_.!~*'()", false)] {
            let f = percent(s, keep, plus, upper);
            if f != s && !forms.contains(&f) {
                forms.push(f);
            }
        }
    }
    forms
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
    fn masks_percent_encoded_forms() {
        let secret = "adm&<>\"' %/tok3n";
        let r = Redactor::new([SecretString::from(secret.to_string())]);
        for text in [
            "u=adm%26%3C%3E%22%27%20%25%2Ftok3n",
            "u=adm%26%3c%3e%22%27%20%25%2ftok3n",
            "u=adm%26%3C%3E%22%27+%25%2Ftok3n",
            "u=adm%26%3C%3E%22'%20%25%2Ftok3n",
        ] {
            assert_eq!(r.redact(text), "u=[REDACTED]", "{text}");
        }
        assert_eq!(r.redact(&format!("x {secret} y")), "x [REDACTED] y");
    }

    #[test]
    fn leaves_clean_text_alone() {
        let r = Redactor::new([SecretString::from("supersecret".to_string())]);
        assert_eq!(r.redact("all good"), "all good");
    }
}
