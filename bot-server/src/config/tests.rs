//! `BotConfig::load`: every bad value named by its key and variable, all of them at once.

use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    let mut e: EnvMap = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    e.entry("TELEGRAM_BOT_TOKEN".into())
        .or_insert_with(|| "123:abc".into());
    e
}

fn err(pairs: &[(&str, &str)]) -> String {
    match BotConfig::load(None, &env(pairs)) {
        Ok(_) => panic!("expected a config error for {pairs:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn auto_mode_follows_public_url() -> Result<(), ConfigError> {
    assert_eq!(BotConfig::load(None, &env(&[]))?.mode, Mode::Polling);
    let c = BotConfig::load(
        None,
        &env(&[
            ("PUBLIC_URL", "https://bot.example.com/"),
            ("WEBHOOK_SECRET", "s3cret"),
        ]),
    )?;
    assert_eq!(c.mode, Mode::Webhook);
    assert_eq!(
        c.webhook.url.map(|u| u.to_string()).as_deref(),
        Some("https://bot.example.com/webhook")
    );
    Ok(())
}

#[test]
fn each_bad_value_names_its_key() {
    assert!(err(&[("BOT_MODE", "webhook")]).contains("PUBLIC_URL"));
    assert!(err(&[("BOT_MODE", "sideways")]).contains("BOT_MODE"));
    assert!(err(&[("TELBOT__WEBHOOK__REPLY_WAIT", "0s")]).contains("webhook.reply_wait"));
    assert!(err(&[("TELBOT__WEBHOOK__REPLY_WAIT", "2m")]).contains("webhook.reply_wait"));
    assert!(err(&[("TELBOT__WEBHOOK__REPLY_IN_ANSWER", "maybe")]).contains("reply_in_answer"));
    assert!(err(&[("WEBHOOK_SECRET", "has space")]).contains("WEBHOOK_SECRET"));
    assert!(err(&[("PORT", "eighty")]).contains("port"));
    assert!(err(&[("PUBLIC_URL", "ftp://x")]).contains("PUBLIC_URL"));
    assert!(err(&[("TELBOT__INBOX__WORKERS", "0")]).contains("inbox.workers"));
    assert!(err(&[("ADMIN_TOKEN", "short")]).contains("ADMIN_TOKEN"));
    for (var, bad, key) in [
        (
            "TELBOT__DASHBOARD__SESSION_TTL",
            "10s",
            "dashboard.session_ttl",
        ),
        ("TELBOT__DASHBOARD__SESSION_TTL", "soon", "session_ttl"),
        (
            "TELBOT__DASHBOARD__LOGIN_MAX_FAILURES",
            "0",
            "dashboard.login_max_failures",
        ),
        (
            "TELBOT__DASHBOARD__LOGIN_WINDOW",
            "0s",
            "dashboard.login_window",
        ),
        (
            "TELBOT__DASHBOARD__LOGIN_CLIENTS",
            "0",
            "dashboard.login_clients",
        ),
        (
            "TELBOT__DASHBOARD__FORWARDED_FOR_HOPS",
            "99",
            "dashboard.forwarded_for_hops",
        ),
    ] {
        assert!(err(&[(var, bad)]).contains(key), "{var}={bad}");
    }
    assert!(err(&[("TELBOT__SERVER__BODY_BUDGET_BYTES", "1000")]).contains("body_budget_bytes"));
    assert!(
        err(&[("TELBOT__SERVER__MAX_UNTRUSTED_CONNECTIONS", "5000")])
            .contains("max_untrusted_connections")
    );
}

#[test]
fn a_public_webhook_without_a_secret_generates_one_and_loopback_stays_easy() {
    let c = BotConfig::load(None, &env(&[("PUBLIC_URL", "https://bot.example.com")]));
    assert!(c.is_ok_and(|c| c.webhook.generate_secret && c.webhook.secret.is_none()));
    let c = BotConfig::load(
        None,
        &env(&[
            ("PUBLIC_URL", "https://bot.example.com"),
            ("WEBHOOK_SECRET", "mine"),
        ]),
    );
    assert!(c.is_ok_and(|c| !c.webhook.generate_secret));
    // Polling needs no secret; a loopback URL (the demo, tests) only warns.
    assert!(
        BotConfig::load(
            None,
            &env(&[
                ("PUBLIC_URL", "https://bot.example.com"),
                ("BOT_MODE", "polling")
            ])
        )
        .is_ok()
    );
    let c = BotConfig::load(None, &env(&[("PUBLIC_URL", "http://127.0.0.1:8080")]));
    assert!(
        c.is_ok_and(|c| !c.webhook.generate_secret
            && c.warnings.iter().any(|w| w.contains("WEBHOOK_SECRET")))
    );
}

#[test]
fn done_updates_are_kept_at_least_as_long_as_telegram_redelivers() {
    let e = err(&[("TELBOT__INBOX__KEEP_DONE", "1h")]);
    assert!(e.contains("inbox.keep_done") && e.contains("25h"), "{e}");
    assert!(BotConfig::load(None, &env(&[("TELBOT__INBOX__KEEP_DONE", "48h")])).is_ok());
}

#[test]
fn the_handler_deadline_must_outlast_the_clients_worst_case() -> Result<(), ConfigError> {
    let c = BotConfig::load(None, &env(&[]))?;
    // Defaults: 3 attempts x 10 s, two waits of up to 60 s (a 429's retry_after).
    assert_eq!(c.handler_worst_case(), Duration::from_secs(150));
    assert!(c.inbox.handler_timeout > c.handler_worst_case());
    // The old fixed 60 s deadline is refused with the defaults...
    let e = err(&[("TELBOT__INBOX__HANDLER_TIMEOUT", "60s")]);
    assert!(
        e.contains("inbox.handler_timeout") && e.contains("150 s"),
        "{e}"
    );
    // ...and a longer 429 cap raises the bar.
    let e = err(&[("TELBOT__TELEGRAM__MAX_RETRY_AFTER", "300s")]);
    assert!(e.contains("inbox.handler_timeout"), "{e}");
    let c = BotConfig::load(
        None,
        &env(&[
            ("TELBOT__TELEGRAM__MAX_RETRY_AFTER", "2s"),
            ("TELBOT__TELEGRAM__REQUEST_TIMEOUT", "1s"),
            ("TELBOT__TELEGRAM__BACKOFF_MAX", "1s"),
            ("TELBOT__INBOX__HANDLER_TIMEOUT", "8s"),
        ]),
    )?;
    assert_eq!(c.handler_worst_case(), Duration::from_secs(3 + 2 * 2));
    Ok(())
}

#[test]
fn per_key_cap_must_fit_in_max_loaded() {
    assert!(err(&[("TELBOT__INBOX__MAX_LOADED_PER_KEY", "0")]).contains("max_loaded_per_key"));
    assert!(
        err(&[
            ("TELBOT__INBOX__MAX_LOADED", "8"),
            ("TELBOT__INBOX__MAX_LOADED_PER_KEY", "9")
        ])
        .contains("max_loaded_per_key")
    );
}

#[test]
fn plain_http_off_loopback_is_a_warning_not_a_refusal() -> Result<(), ConfigError> {
    let c = BotConfig::load(
        None,
        &env(&[
            ("PUBLIC_URL", "http://bot.example.com"),
            ("WEBHOOK_SECRET", "s3cret"),
        ]),
    )?;
    assert!(c.warnings.iter().any(|w| w.contains("https")));
    let c = BotConfig::load(None, &env(&[("PUBLIC_URL", "http://127.0.0.1:8080")]))?;
    assert!(c.warnings.iter().all(|w| !w.contains("https")));
    Ok(())
}

#[test]
fn every_bad_key_is_listed_at_once_without_its_secret() {
    let msg = err(&[
        ("TELBOT__INBOX__WORKERS", "0"),
        ("ADMIN_TOKEN", "tok4x"),
        ("BOT_MODE", "sideways"),
        ("PUBLIC_URL", "ftp://x"),
        ("TELBOT__POLLING__LIMIT", "500"),
        ("WEBHOOK_SECRET", "has space and a s3cret"),
        ("TELBOT__DASHBOARD__REFRESH", "10ms"),
        ("TELBOT__DASHBOARD__LOGIN_CLIENTS", "0"),
        ("TELBOT__LIMITS__CPU_WARN_PERCENT", "140"),
        ("TELBOT__SERVER__BODY_TIMEOUT", "0s"),
    ]);
    for key in [
        "inbox.workers",
        "ADMIN_TOKEN",
        "BOT_MODE",
        "PUBLIC_URL",
        "polling.limit",
        "WEBHOOK_SECRET",
        "dashboard.refresh",
        "dashboard.login_clients",
        "limits.cpu_warn_percent",
        "server.body_timeout",
    ] {
        assert!(msg.contains(key), "{key} missing from: {msg}");
    }
    assert!(msg.lines().count() >= 10, "one line per problem: {msg}");
    assert!(!msg.contains("s3cret") && !msg.contains("tok4x"), "{msg}");
}
