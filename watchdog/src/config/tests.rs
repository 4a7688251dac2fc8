use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    let mut e: EnvMap = [
        ("TELEGRAM_BOT_TOKEN", "123:abc"),
        ("PUBLIC_URL", "https://bot.example"),
        ("DATA_DIR", "/tmp/wd-cfg-test"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in pairs {
        e.insert(k.to_string(), v.to_string());
    }
    e
}

#[test]
fn backup_urls_become_backups_and_bad_ones_are_refused_by_key() {
    let c = WatchdogConfig::load(
        None,
        &env(&[(
            "TELBOT__WEBHOOK__BACKUP_URLS",
            "https://eu.bot.example/, https://us.bot.example",
        )]),
    )
    .map_err(|e| e.to_string())
    .unwrap_or_else(|e| panic!("{e}"));
    let b = &c.webhook.backups;
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].webhook_url, "https://eu.bot.example/webhook");
    assert_eq!(b[0].health_url, "https://eu.bot.example/health");
    assert_eq!(b[1].base, "https://us.bot.example");
    assert_eq!(c.webhook.failback_after, Duration::from_secs(300));
    for (value, failback, says) in [
        ("not a url", "5m", "webhook.backup_urls[0]"),
        ("https://bot.example", "5m", "is the primary"),
        (
            "https://eu.bot.example,https://eu.bot.example/",
            "5m",
            "webhook.backup_urls[1]",
        ),
        ("https://eu.bot.example", "0s", "webhook.failback_after"),
    ] {
        let e = WatchdogConfig::load(
            None,
            &env(&[
                ("TELBOT__WEBHOOK__BACKUP_URLS", value),
                ("TELBOT__WEBHOOK__FAILBACK_AFTER", failback),
            ]),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
        .expect_err(value);
        assert!(e.contains(says), "{value}: {e}");
    }
}

#[test]
fn defaults_validate_and_derive_the_webhook() {
    let c = WatchdogConfig::load(None, &env(&[("BOT_URL", "http://10.0.0.5:8080")]))
        .map_err(|e| e.to_string());
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.webhook.expected_url, "https://bot.example/webhook");
    assert_eq!(c.webhook.replay_url, "http://10.0.0.5:8080/webhook");
    assert_eq!(
        Ok(c.schedules.liveness),
        Trigger::cron("*/30 * * * * *", "k").map_err(|e| e.to_string())
    );
    assert_eq!(c.thresholds.max_pending, 5);
    assert_eq!(c.thresholds.rss_limit_bytes, 500 << 20);
    assert_eq!(c.bot_attempts, 3);
    assert_eq!(c.recovery.mode, PendingMode::Lossless);
    assert!(c.restart.method.is_none());
    assert!(c.act, "the watchdog acts unless asked for a dry run");
    assert_eq!(c.schedules.drill, None, "no drill unless scheduled");
    assert_eq!(c.schedules.digest, None, "no digest unless scheduled");
}

#[test]
fn a_drill_schedule_is_a_cron_like_the_others() {
    let weekly = env(&[("TELBOT__WATCHDOG__SCHEDULE__DRILL", "0 0 10 * * Mon")]);
    let c = WatchdogConfig::load(None, &weekly).map_err(|e| e.to_string());
    assert_eq!(
        c.map(|c| c.schedules.drill),
        Trigger::cron("0 0 10 * * Mon", "k")
            .map(Some)
            .map_err(|e| e.to_string())
    );
    let bad = env(&[("TELBOT__WATCHDOG__SCHEDULE__DRILL", "weekly")]);
    let msg = WatchdogConfig::load(None, &bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("watchdog.schedule.drill"), "{msg}");
}

#[test]
fn a_digest_schedule_is_a_cron_like_the_others() {
    let daily = env(&[("TELBOT__WATCHDOG__SCHEDULE__DIGEST", "0 0 8 * * *")]);
    let c = WatchdogConfig::load(None, &daily).map_err(|e| e.to_string());
    assert_eq!(
        c.map(|c| c.schedules.digest),
        Trigger::cron("0 0 8 * * *", "k")
            .map(Some)
            .map_err(|e| e.to_string())
    );
    let bad = env(&[("TELBOT__WATCHDOG__SCHEDULE__DIGEST", "daily")]);
    let msg = WatchdogConfig::load(None, &bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("watchdog.schedule.digest"), "{msg}");
    // Six fields that are no schedule: refused at load, naming the key and what is wrong.
    let bad = env(&[("TELBOT__WATCHDOG__SCHEDULE__DIGEST", "61 0 8 * * *")]);
    let msg = WatchdogConfig::load(None, &bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("watchdog.schedule.digest") && msg.contains("61 0 8"),
        "{msg}"
    );
}

#[test]
fn every_bad_key_gets_its_own_line_and_secrets_stay_out() {
    let e = env(&[
        ("PUBLIC_URL", ""),
        ("RENDER_API_KEY", "rnd_topsecret"),
        ("TELBOT__WATCHDOG__BOT__ATTEMPTS", "0"),
        ("TELBOT__WATCHDOG__SCHEDULE__INTEGRATION", "0 */15 * * *"),
    ]);
    let msg = WatchdogConfig::load(None, &e)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    for key in [
        "PUBLIC_URL",
        "watchdog.bot_url",
        "render_service_id",
        "watchdog.bot.attempts",
        "watchdog.schedule.integration",
    ] {
        assert!(
            msg.lines().any(|l| l.contains(key)),
            "{key} missing in:\n{msg}"
        );
    }
    assert!(!msg.contains("rnd_topsecret"));
}

#[test]
fn restart_methods_in_order_of_preference() {
    let c = WatchdogConfig::load(
        None,
        &env(&[("TELBOT__WATCHDOG__RESTART__COMMAND", "true")]),
    )
    .ok();
    assert_eq!(
        c.and_then(|c| c.restart.method).map(|m| m.name()),
        Some("command")
    );
    let c = WatchdogConfig::load(
        None,
        &env(&[
            ("RENDER_API_KEY", "k"),
            ("RENDER_SERVICE_ID", "srv-1"),
            ("TELBOT__WATCHDOG__RESTART__COMMAND", "true"),
        ]),
    )
    .ok();
    assert_eq!(
        c.and_then(|c| c.restart.method).map(|m| m.name()),
        Some("render")
    );
}
