//! The `[alerts]` section: defaults load, bad values are refused naming the key, and no error
//! prints a secret.

use telbot_alerts::AlertsConfig;
use telbot_shared::config::{EnvMap, load};

fn env(pairs: &[(&str, &str)]) -> EnvMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn try_load(pairs: &[(&str, &str)]) -> Result<AlertsConfig, String> {
    let e = env(pairs);
    AlertsConfig::load(&load(None, &e).unwrap(), &e).map_err(|e| e.to_string())
}

#[test]
fn defaults_load_with_no_channel() {
    let c = try_load(&[]).unwrap();
    assert_eq!((c.failure_threshold, c.success_threshold), (2, 2));
    assert_eq!(c.repeat_interval, std::time::Duration::from_secs(4 * 3600));
    assert_eq!(c.bot_name, "telbot");
    assert!(c.smtp.is_none() && c.dashboard_url.is_none());
}

#[test]
fn well_known_names_configure_email() {
    let c = try_load(&[
        ("SMTP_URL", "smtps://user%40x:p%2Fss@smtp.resend.com"),
        ("ALERT_EMAIL_FROM", "wd@example.com"),
        ("ALERT_EMAIL_TO", "a@example.com, b@example.com"),
        ("PUBLIC_URL", "https://bot.example/"),
        ("RESEND_API_KEY", "re_123456"),
    ])
    .unwrap();
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.resend.com", 465));
    assert_eq!(smtp.credentials.as_ref().unwrap().0, "user@x");
    assert_eq!(c.email_to, vec!["a@example.com", "b@example.com"]);
    assert_eq!(
        c.dashboard_url.unwrap().as_str(),
        "https://bot.example/bot/dashboard"
    );
    assert!(c.resend.is_some());
    assert!(!format!("{:?}", c.smtp).contains("p/ss"));
}

#[test]
fn bad_values_name_the_key_and_hide_secrets() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("SMTP_URL", "smtp://h:25"),
                ("ALERT_EMAIL_TO", "a@example.com"),
            ],
            "ALERT_EMAIL_FROM",
        ),
        (
            &[
                ("SMTP_URL", "smtp://h:25"),
                ("ALERT_EMAIL_FROM", "wd@example.com"),
            ],
            "ALERT_EMAIL_TO",
        ),
        (
            &[
                ("SMTP_URL", "imap://u:hunter2pw@h"),
                ("ALERT_EMAIL_FROM", "a@b.c"),
                ("ALERT_EMAIL_TO", "a@b.c"),
            ],
            "SMTP_URL",
        ),
        (
            &[
                ("SMTP_URL", "smtp://h?tls=bogus"),
                ("ALERT_EMAIL_FROM", "a@b.c"),
                ("ALERT_EMAIL_TO", "a@b.c"),
            ],
            "SMTP_URL",
        ),
        (
            &[
                ("SMTP_URL", "smtp://h"),
                ("ALERT_EMAIL_FROM", "not an address"),
                ("ALERT_EMAIL_TO", "a@b.c"),
            ],
            "ALERT_EMAIL_FROM",
        ),
        (
            &[("TELBOT__ALERTS__FAILURE_THRESHOLD", "0")],
            "alerts.failure_threshold",
        ),
        (
            &[("TELEGRAM_ALERT_TOKEN", "123:hunter2pw")],
            "alerts.telegram_alert_chat_id",
        ),
        (
            &[("TELEGRAM_ALERT_TOKEN", "hunter2pw")],
            "alerts.telegram_alert_token",
        ),
        (
            &[("SLACK_WEBHOOK_URL", "hooks.slack.com/hunter2pw")],
            "alerts.slack_webhook_url",
        ),
        (&[("TELBOT__ALERTS__RETRY_MAX", "1s")], "alerts.retry_max"),
    ];
    for (pairs, key) in cases {
        let err = try_load(pairs).expect_err(key);
        assert!(err.contains(key), "{key}: {err}");
        assert!(!err.contains("hunter2pw"), "{key}: {err}");
    }
}

#[test]
fn maintenance_windows_are_parsed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.toml");
    std::fs::write(
        &f,
        "[[alerts.maintenance]]\nstart = \"2025-06-01T02:00:00Z\"\nend = \"2025-06-01T03:00:00Z\"\nincidents = [\"bot-down\"]\nreason = \"db upgrade\"\n",
    )
    .unwrap();
    let c = AlertsConfig::load(&load(Some(&f), &EnvMap::new()).unwrap(), &EnvMap::new()).unwrap();
    assert_eq!(c.maintenance.len(), 1);
    assert_eq!(c.maintenance[0].end - c.maintenance[0].start, 3600);
    std::fs::write(&f, "[[alerts.maintenance]]\nstart = \"2025-06-01T03:00:00Z\"\nend = \"2025-06-01T02:00:00Z\"\n").unwrap();
    let err = AlertsConfig::load(&load(Some(&f), &EnvMap::new()).unwrap(), &EnvMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("alerts.maintenance[0].end"), "{err}");
}

#[test]
fn a_password_over_plain_smtp_to_a_remote_host_is_refused() {
    let base = [
        ("ALERT_EMAIL_FROM", "bot@example.com"),
        ("ALERT_EMAIL_TO", "oncall@example.com"),
    ];
    let with = |url: &'static str| {
        let mut p = base.to_vec();
        p.push(("SMTP_URL", url));
        try_load(&p)
    };
    let err = with("smtp://user:hunter2pw@mail.example.com:25").unwrap_err();
    assert!(
        err.contains("alerts.smtp_url") && err.contains("TLS"),
        "{err}"
    );
    assert!(!err.contains("hunter2pw"), "{err}");
    assert!(with("smtp://user:hunter2pw@mail.example.com:587?tls=opportunistic").is_err());
    // TLS, or plain SMTP on loopback (a local relay), stays allowed.
    assert!(with("smtp://user:pw@mail.example.com:587?tls=required").is_ok());
    assert!(with("smtps://user:pw@mail.example.com:465").is_ok());
    assert!(with("smtp://user:pw@127.0.0.1:2525").is_ok());
    assert!(with("smtp://mail.example.com:25").is_ok());
}

/// Issue 27, part 6: the Twilio channel from its well-known names (a comma list of numbers),
/// and a half-configured one refused naming the missing key.
#[test]
fn well_known_names_configure_sms_and_a_missing_token_is_named() {
    let sid = "AC0123456789abcdef0123456789abcdef";
    let c = try_load(&[
        ("TWILIO_ACCOUNT_SID", sid),
        ("TWILIO_AUTH_TOKEN", "00123secretTOKEN"),
        ("ALERT_SMS_FROM", "+15005550006"),
        ("ALERT_SMS_TO", "+4915112345678, +4915187654321"),
    ])
    .unwrap();
    let t = c.twilio.as_ref().expect("sms configured");
    assert_eq!(t.account_sid, sid);
    assert_eq!(t.to, vec!["+4915112345678", "+4915187654321"]);
    assert_eq!(t.api_url.as_str(), "https://api.twilio.com/");
    assert!(!format!("{c:?}").contains("00123secretTOKEN"));
    use secrecy::ExposeSecret;
    assert_eq!(
        t.auth_token.expose_secret(),
        "00123secretTOKEN",
        "not parsed as a number"
    );
    let e = try_load(&[
        ("TWILIO_ACCOUNT_SID", sid),
        ("ALERT_SMS_TO", "+4915112345678"),
    ])
    .unwrap_err();
    assert!(e.contains("alerts.twilio_auth_token"), "{e}");
}

#[test]
fn every_bad_alert_key_is_listed_at_once_without_a_secret() {
    let err = try_load(&[
        ("SMTP_URL", "smtp://user:hunter22@mail.example:587"),
        ("ALERT_EMAIL_TO", "not-an-address"),
        (
            "TELBOT__ALERTS__SLACK_WEBHOOK_URL",
            "ftp://hooks.slack/T0/B0/s3cr3tslack",
        ),
        ("TELBOT__ALERTS__FAILURE_THRESHOLD", "0"),
        ("TELBOT__ALERTS__RETRY_MAX", "1ms"),
    ])
    .unwrap_err();
    for key in [
        "alerts.smtp_url",
        "alerts.email_from",
        "alerts.email_to",
        "alerts.slack_webhook_url",
        "alerts.failure_threshold",
        "alerts.retry_max",
    ] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
    assert!(err.lines().count() >= 6, "one line per problem: {err}");
    assert!(
        !err.contains("hunter22") && !err.contains("s3cr3tslack"),
        "{err}"
    );
}
