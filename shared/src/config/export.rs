//! The effective configuration as TOML, for a backup (the ops notes' weekly "back up
//! configuration and environment variables"): every key as the layers resolved it (defaults,
//! file, `TELBOT__…`, well-known names), with each secret left out and named instead by the
//! variable that holds it, so the file can be kept anywhere and loaded again with
//! `--config` once those variables are set.

use std::collections::BTreeMap;

use super::{ConfigError, WELL_KNOWN};

/// URL keys that carry a credential (a password, a token in the path).
const SECRET_URLS: &[&str] = &[
    "database_url",
    "smtp_url",
    "deploy_hook_url",
    "heartbeat_url",
    "slack_webhook_url",
    "discord_webhook_url",
    "webhook_url",
];

/// Whether the leaf `name` of a key holds a secret. `…_env` and `…_file` keys name where a
/// secret is, not the secret.
pub fn is_secret(name: &str) -> bool {
    if name.ends_with("_env") || name.ends_with("_file") {
        return false;
    }
    name.ends_with("token")
        || name.ends_with("secret")
        || name.ends_with("_key")
        || name.contains("password")
        || SECRET_URLS.contains(&name)
}

/// Where a secret key is set: its well-known variable, else its `TELBOT__…` one.
fn variable_of(key: &str) -> String {
    WELL_KNOWN
        .iter()
        .rev()
        .find(|(_, k)| *k == key)
        .map(|(e, _)| (*e).to_string())
        .unwrap_or_else(|| format!("TELBOT__{}", key.replace('.', "__").to_uppercase()))
}

/// The TOML text of `cfg`, secrets removed and listed at the top by the variables that hold
/// them. `heading` is the first comment line (who exported it, when).
pub fn export(cfg: &config::Config, heading: &str) -> Result<String, ConfigError> {
    let mut table: toml::Table = cfg
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::Parse(format!("cannot export the configuration: {e}")))?;
    let mut secrets = BTreeMap::new();
    strip(&mut table, "", &mut secrets);
    let body = toml::to_string_pretty(&table)
        .map_err(|e| ConfigError::Parse(format!("cannot export the configuration: {e}")))?;
    let mut out = format!("# {heading}\n");
    if secrets.is_empty() {
        out.push_str("# No secret is set.\n");
    } else {
        out.push_str(
            "# Secrets are not in this file. Set these variables where you load it again:\n",
        );
        for (key, var) in &secrets {
            out.push_str(&format!("#   {var:<40} ({key})\n"));
        }
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// Removes every secret with a value below `prefix`, noting its key and variable.
fn strip(table: &mut toml::Table, prefix: &str, secrets: &mut BTreeMap<String, String>) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for k in keys {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(v) = table.get_mut(&k) else { continue };
        match v {
            toml::Value::Table(t) => strip(t, &key, secrets),
            toml::Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let toml::Value::Table(t) = item {
                        strip(t, &format!("{key}[{i}]"), secrets);
                    }
                }
            }
            other if is_secret(&k) => {
                let empty = other.as_str().is_some_and(|s| s.trim().is_empty());
                table.remove(&k);
                if !empty {
                    let var = if key.contains('[') {
                        format!("the {k}_env variable of {prefix} (it was set in the file)")
                    } else {
                        variable_of(&key)
                    };
                    secrets.insert(key, var);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_named_not_kept_and_the_rest_loads_again() {
        let env: super::super::EnvMap = [
            ("TELEGRAM_BOT_TOKEN", "123456:AAexport-secret-token"),
            ("WEBHOOK_SECRET", "hook-secret-value"),
            ("DATABASE_URL", "postgres://u:pw-secret@db/telbot"),
            ("TELBOT__WATCHDOG__MAX_PENDING", "7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = super::super::load(None, &env).unwrap_or_else(|e| panic!("{e}"));
        let text = export(&cfg, "exported for a test").unwrap_or_else(|e| panic!("{e}"));
        for secret in ["AAexport-secret-token", "hook-secret-value", "pw-secret"] {
            assert!(!text.contains(secret), "{secret} in\n{text}");
        }
        for line in [
            "TELEGRAM_BOT_TOKEN",
            "(telegram.token)",
            "WEBHOOK_SECRET",
            "DATABASE_URL",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(
            !text.contains("ADMIN_TOKEN"),
            "an unset secret is not listed:\n{text}"
        );
        // The file loads again and keeps what was set.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("backup.toml");
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let again = super::super::load(Some(&path), &Default::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            again.get_string("watchdog.max_pending").ok().as_deref(),
            Some("7")
        );
        assert!(
            again.get_string("telegram.token").is_err(),
            "no token came back"
        );
        assert!(is_secret("pagerduty_routing_key") && is_secret("twilio_auth_token"));
        assert!(!is_secret("token_env") && !is_secret("api_url") && !is_secret("public_url"));
    }
}
