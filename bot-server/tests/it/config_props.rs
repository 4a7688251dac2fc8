//! Property test of the config loaders (file + environment; the core's and the reference bot's): any values load or are refused
//! without panicking, and a refusal never quotes a secret.

use std::collections::HashMap;

use bot_server::BotConfig;
use proptest::prelude::*;

const MARK: &str = "SEKRIT4242";

fn noise() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ -~]{0,24}",
        "[0-9]{1,6}",
        "[0-9]{1,4}(ms|s|m|h)",
        Just("http://127.0.0.1:8080".to_string()),
        Just("https://bot.example.com".to_string()),
    ]
}

/// A value for a secret key: the mark inside some noise.
fn secret() -> impl Strategy<Value = String> {
    ("[ -~]{0,6}", "[ -~]{0,6}").prop_map(|(a, b)| format!("{a}{MARK}{b}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn any_environment_loads_or_is_refused_without_quoting_a_secret(
        token in secret(),
        webhook_secret in prop::option::of(secret()),
        admin in prop::option::of(secret()),
        ai_key in prop::option::of(secret()),
        url_password in prop::option::of(secret()),
        plain in prop::collection::vec((0usize..10, noise()), 0..6),
        file in prop::option::of(("[ -~\n]{0,40}", any::<bool>())),
    ) {
        let keys = [
            "PUBLIC_URL", "PORT", "BOT_MODE", "TELBOT__SERVER__BODY_TIMEOUT",
            "TELBOT__SERVER__MAX_CONNECTIONS", "TELBOT__SERVER__BODY_BUDGET_BYTES",
            "TELBOT__WEBHOOK__MAX_BODY_BYTES", "TELBOT__AI__BASE_URL", "TELBOT__SERVER__PORTT",
            "TELBOT__SERVER__MAX_CONNECTIONS_PER_IP",
        ];
        let mut env: HashMap<String, String> = HashMap::new();
        for (k, v) in plain {
            env.insert(keys[k].into(), v);
        }
        env.insert("TELEGRAM_BOT_TOKEN".into(), token);
        if let Some(s) = webhook_secret { env.insert("WEBHOOK_SECRET".into(), s); }
        if let Some(s) = admin { env.insert("ADMIN_TOKEN".into(), s); }
        if let Some(s) = ai_key { env.insert("TELBOT__AI__API_KEY".into(), s); }
        if let Some(p) = url_password {
            env.insert("DATABASE_URL".into(), format!("postgres://u:{p}@127.0.0.1:1/db"));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let file_arg = file.map(|(text, with_secret)| {
            let text = if with_secret { format!("[telegram]\ntoken = {MARK}{text}\n") } else { text };
            std::fs::write(&path, text).unwrap();
            path.clone()
        });
        // The core's settings, and the reference bot's own ([ai], bot.admin_chat_ids).
        let refused = [
            BotConfig::load(file_arg.as_deref(), &env).err(),
            telbot_reference_bot::Settings::load(file_arg.as_deref(), &env).err(),
        ];
        for e in refused.into_iter().flatten() {
            let msg = e.to_string();
            prop_assert!(!msg.contains(MARK), "{msg}");
            prop_assert!(!format!("{e:?}").contains(MARK), "{e:?}");
        }
    }
}
