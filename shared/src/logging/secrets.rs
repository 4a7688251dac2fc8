//! Which configured values are secrets, for the logs' [`crate::redact::Redactor`]: every value
//! under a key named like a credential (`token`, `*_token`, `secret`, `*_secret`, `*_key`,
//! `*password*`, the webhook-style URLs that are credentials themselves), the password of a
//! URL (`database_url`, `smtp_url`), the variable a `*_env` key names (`token_env`), and the
//! same shapes among the environment's names (`TWILIO_AUTH_TOKEN`, `RESEND_API_KEY`, …).
//! Values shorter than 8 characters are left out (they would mask ordinary words).

use secrecy::SecretString;

use crate::config::EnvMap;

/// URLs that are credentials as a whole.
const CREDENTIAL_URLS: &[&str] = &[
    "webhook_url",
    "slack_webhook_url",
    "discord_webhook_url",
    "heartbeat_url",
    "deploy_hook_url",
];

/// URLs whose password is a secret (the rest of them is not).
const PASSWORD_URLS: &[&str] = &["database_url", "smtp_url"];

fn secret_name(n: &str) -> bool {
    let n = n.to_ascii_lowercase();
    n == "token"
        || n.ends_with("_token")
        || n == "secret"
        || n.ends_with("_secret")
        || n.ends_with("_key")
        || n.contains("password")
        || CREDENTIAL_URLS.contains(&n.as_str())
}

/// The secrets of a loaded config (when it loaded) and of the environment.
pub fn secrets_in(cfg: Option<&config::Config>, env: &EnvMap) -> Vec<SecretString> {
    let mut out = Vec::new();
    if let Some(v) = cfg.and_then(|c| c.clone().try_deserialize::<serde_json::Value>().ok()) {
        walk("", &v, env, &mut out);
    }
    for (name, value) in env {
        let lower = name.to_ascii_lowercase();
        let last = lower.rsplit("__").next().unwrap_or(&lower);
        leaf(last, value, env, &mut out);
    }
    out.sort();
    out.dedup();
    out.into_iter()
        .filter(|s| s.len() >= 8)
        .map(SecretString::from)
        .collect()
}

fn walk(name: &str, v: &serde_json::Value, env: &EnvMap, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                walk(k, v, env, out);
            }
        }
        serde_json::Value::Array(a) => {
            for v in a {
                walk(name, v, env, out);
            }
        }
        serde_json::Value::String(s) => leaf(name, s, env, out),
        _ => {}
    }
}

fn leaf(name: &str, value: &str, env: &EnvMap, out: &mut Vec<String>) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    if let Some(stem) = name.strip_suffix("_env") {
        if (secret_name(stem) || PASSWORD_URLS.contains(&stem))
            && let Some(v) = env.get(value)
        {
            leaf(stem, v, env, out);
        }
        return;
    }
    if secret_name(name) {
        out.push(value.to_string());
    }
    if (PASSWORD_URLS.contains(&name) || secret_name(name))
        && let Some(pw) = url::Url::parse(value)
            .ok()
            .and_then(|u| u.password().map(str::to_string))
    {
        let decoded = percent_encoding::percent_decode_str(&pw)
            .decode_utf8_lossy()
            .into_owned();
        out.push(pw);
        out.push(decoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn finds_credentials_by_key_env_and_url_password() {
        let env: EnvMap = [
            ("TELEGRAM_BOT_TOKEN", "123456:AAAbbbCCCdddEEE"),
            ("TWILIO_AUTH_TOKEN", "twilioTOKEN123456"),
            ("SHOPBOT_TOKEN", "654321:ZZZyyyXXXwww"),
            (
                "DATABASE_URL",
                "postgres://telbot:pa%2Fss-word1@db:5432/telbot",
            ),
            ("LOG_FORMAT", "json"),
            ("PUBLIC_URL", "https://bot.example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = crate::config::load(None, &env).unwrap();
        let got: Vec<String> = secrets_in(Some(&cfg), &env)
            .iter()
            .map(|s| s.expose_secret().to_string())
            .collect();
        for want in [
            "123456:AAAbbbCCCdddEEE",
            "twilioTOKEN123456",
            "654321:ZZZyyyXXXwww",
            "pa%2Fss-word1",
            "pa/ss-word1",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} in {got:?}");
        }
        for not in [
            "json",
            "https://bot.example.com",
            "postgres://telbot:pa%2Fss-word1@db:5432/telbot",
        ] {
            assert!(!got.iter().any(|g| g == not), "{not} is no secret: {got:?}");
        }
    }
}
