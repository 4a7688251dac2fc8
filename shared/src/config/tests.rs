//! Tests of the layered loader and the shared sections.
use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn well_known_names_override_prefixed_ones() -> Result<(), ConfigError> {
    let e = env(&[
        ("TELBOT__SERVER__PORT", "9000"),
        ("PORT", "9100"),
        ("TELBOT__TELEGRAM__MAX_ATTEMPTS", "5"),
    ]);
    let cfg = load(None, &e)?;
    assert_eq!(cfg.get_int("server.port").ok(), Some(9100));
    assert_eq!(cfg.get_int("telegram.max_attempts").ok(), Some(5));
    Ok(())
}

#[test]
fn list_keys_split_on_commas() -> Result<(), ConfigError> {
    let cfg = load(None, &env(&[("TELBOT__BOT__ADMIN_CHAT_IDS", "1, 22,333")]))?;
    let ids: Vec<i64> = cfg
        .get("bot.admin_chat_ids")
        .map_err(|e| ConfigError::Parse(e.to_string()))?;
    assert_eq!(ids, vec![1, 22, 333]);
    Ok(())
}

#[test]
fn public_url_beats_render_external_url() -> Result<(), ConfigError> {
    let cfg = load(
        None,
        &env(&[("RENDER_EXTERNAL_URL", "https://a.onrender.com")]),
    )?;
    assert_eq!(
        cfg.get_string("webhook.public_url").ok().as_deref(),
        Some("https://a.onrender.com")
    );
    let cfg = load(
        None,
        &env(&[
            ("RENDER_EXTERNAL_URL", "https://a.onrender.com"),
            ("PUBLIC_URL", "https://b.example"),
        ]),
    )?;
    assert_eq!(
        cfg.get_string("webhook.public_url").ok().as_deref(),
        Some("https://b.example")
    );
    Ok(())
}

#[test]
fn missing_token_names_the_variable() {
    let cfg = load(None, &EnvMap::new()).ok();
    let section: Option<TelegramSection> = cfg.and_then(|c| section(&c, "telegram").ok());
    let err = section.map(TelegramConfig::from_section);
    let msg = match err {
        Some(Err(e)) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(msg.contains("TELEGRAM_BOT_TOKEN"), "{msg}");
    assert!(msg.contains("required"), "{msg}");
}

#[test]
fn a_bad_token_is_refused_without_being_printed() {
    let cfg = load(None, &env(&[("TELEGRAM_BOT_TOKEN", "not-a-token-s3cr3t")])).ok();
    let s: Option<TelegramSection> = cfg.and_then(|c| section(&c, "telegram").ok());
    let msg = match s.map(TelegramConfig::from_section) {
        Some(Err(e)) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(msg.contains("not a bot token"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
}

#[test]
fn a_numeric_looking_secret_keeps_its_zeros() -> Result<(), ConfigError> {
    let cfg = load(None, &env(&[("TELEGRAM_BOT_TOKEN", "123:00123")]))?;
    let s: TelegramSection = section(&cfg, "telegram")?;
    let t = TelegramConfig::from_section(s)?;
    assert_eq!(t.token.expose_secret(), "123:00123");
    Ok(())
}

#[test]
fn a_wrong_type_names_the_key() {
    let cfg = load(None, &env(&[("TELBOT__TELEGRAM__MAX_ATTEMPTS", "lots")])).ok();
    let r = cfg.map(|c| section::<TelegramSection>(&c, "telegram"));
    let msg = match r {
        Some(Err(e)) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(msg.contains("max_attempts"), "{msg}");
}

#[test]
fn store_defaults_to_sqlite_in_data_dir_and_rejects_mysql() -> Result<(), ConfigError> {
    let cfg = load(None, &env(&[("DATA_DIR", "/tmp/tb")]))?;
    let s = StoreConfig::from_section(section(&cfg, "store")?)?;
    assert_eq!(s.backend, Backend::Sqlite);
    assert!(s.url.expose_secret().contains("/tmp/tb/telbot.db"));
    let cfg = load(None, &env(&[("DATABASE_URL", "mysql://x")]))?;
    let err = StoreConfig::from_section(section(&cfg, "store")?)
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|m| m.contains("DATABASE_URL")));
    Ok(())
}

#[test]
fn a_sqlite_url_without_mode_still_creates_the_file() -> Result<(), ConfigError> {
    let cfg = load(None, &env(&[("DATABASE_URL", "sqlite:///tmp/x/bench.db")]))?;
    let s = StoreConfig::from_section(section(&cfg, "store")?)?;
    assert_eq!(s.url.expose_secret(), "sqlite:///tmp/x/bench.db?mode=rwc");
    Ok(())
}

#[test]
fn postgres_password_is_redacted_in_debug() -> Result<(), ConfigError> {
    let cfg = load(
        None,
        &env(&[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1/db")]),
    )?;
    let s = StoreConfig::from_section(section(&cfg, "store")?)?;
    assert_eq!(s.backend, Backend::Postgres);
    assert!(!format!("{s:?}").contains("hunter2"));
    Ok(())
}

#[test]
fn a_config_file_layer_applies_and_a_broken_one_names_the_file()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let good = dir.path().join("prod.toml");
    std::fs::write(&good, "[server]\nport = 7000\n")?;
    let cfg = load(Some(&good), &EnvMap::new())?;
    assert_eq!(cfg.get_int("server.port").ok(), Some(7000));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server\nport = ")?;
    let err = load(Some(&bad), &EnvMap::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("bad.toml"), "{err}");
    Ok(())
}

#[test]
fn a_syntax_error_in_the_file_never_prints_the_token() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("prod.toml");
    std::fs::write(&bad, "[telegram]\ntoken = 123456:SECRETpart-of-token\n")?;
    let err = load(Some(&bad), &EnvMap::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("prod.toml") && err.contains("line 2"), "{err}");
    assert!(!err.contains("SECRET") && !err.contains("123456"), "{err}");
    Ok(())
}

#[test]
fn unknown_keys_are_errors_naming_the_closest_known_key() -> Result<(), Box<dyn std::error::Error>>
{
    let err = load(None, &env(&[("TELBOT__SERVER__PORTT", "1")]))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("server.portt") && err.contains("TELBOT__SERVER__PORTT"),
        "{err}"
    );
    assert!(err.contains("did you mean server.port"), "{err}");
    let dir = tempfile::tempdir()?;
    let f = dir.path().join("typo.toml");
    std::fs::write(&f, "[servr]\nport = 7000\n")?;
    let err = load(Some(&f), &EnvMap::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("servr.port") && err.contains("typo.toml"),
        "{err}"
    );
    // Documented keys, also the optional ones default.toml shows commented out, still load.
    std::fs::write(
        &f,
        "[telegram]\ntoken = \"1:x\"\n[server]\nport = 7000\n[[alerts.maintenance]]\nstart = \"2025-06-01T02:00:00Z\"\nend = \"2025-06-01T03:00:00Z\"\n",
    )?;
    load(Some(&f), &env(&[("TELBOT__WEBHOOK__SECRET", "s")]))?;
    Ok(())
}

#[test]
fn public_url_must_be_a_plain_base_url() {
    for (raw, needle) in [
        (
            "http://user:pw-secret@bot.example.com",
            "user name or password",
        ),
        ("https://bot.example.com/?a=b", "query"),
        (
            "https://bot.example.com/bot1",
            "TELBOT__WEBHOOK__PATH=/bot1/webhook",
        ),
    ] {
        let err = parse_public_url(raw, "webhook.public_url")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(needle), "{raw}: {err}");
        assert!(!err.contains("pw-secret"), "{err}");
    }
    assert!(parse_public_url("https://bot.example.com/", "webhook.public_url").is_ok());
    let err = parse_http_url("http://user:pw-secret@exa mple.com", "k")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!err.contains("pw-secret"), "{err}");
}
