use telbot_testkit::tls::{DAY, TestCa, self_signed};

use super::*;

const NOW: i64 = 1_796_601_600; // 2026-12-07T00:00:00Z

fn facts(not_after: i64) -> CertFacts {
    CertFacts {
        not_before: NOW - 60 * DAY,
        not_after,
        names: vec!["bot.example".into()],
        host_ok: true,
        trusted: true,
        pinned: false,
        self_signed: false,
        trust_error: None,
    }
}

fn reading(f: Result<CertFacts, String>) -> Reading {
    Reading {
        host: "bot.example".into(),
        addr: "bot.example:443".into(),
        at: NOW,
        facts: f,
    }
}

#[test]
fn the_validity_is_read_from_real_certificates_and_garbage_is_none() {
    let ca = TestCa::new(NOW);
    for (nb, na) in [
        (NOW - DAY, NOW + 30 * DAY),
        (NOW - 400 * DAY, NOW - DAY),
        // After 2049 X.509 switches to GeneralizedTime.
        (NOW, 2_840_140_800 + 3_723),
    ] {
        let leaf = ca.issue(&["bot.example"], nb, na);
        assert_eq!(
            der::validity(&leaf.chain[0]),
            Some(der::Validity {
                not_before: nb,
                not_after: na
            })
        );
    }
    let der = ca.issue(&["bot.example"], NOW, NOW + DAY).chain[0].to_vec();
    for cut in [0, 1, 5, 40, der.len() / 2] {
        assert_eq!(der::validity(&der[..cut]), None, "cut at {cut}");
    }
    assert_eq!(der::validity(b"\x30\x84\xff\xff\xff\xff"), None);
    assert_eq!(der::date(NOW), "2026-12-07");
    assert_eq!(der::date(951_782_400), "2000-02-29");
}

#[test]
fn expiry_host_and_trust_are_judged_by_the_configured_days() {
    let t = TlsConfig::default();
    let wrong_host = CertFacts {
        host_ok: false,
        names: vec!["other.example".into()],
        ..facts(NOW + 90 * DAY)
    };
    let self_signed = CertFacts {
        trusted: false,
        self_signed: true,
        trust_error: Some("unknown issuer".into()),
        ..facts(NOW + 90 * DAY)
    };
    let cases: Vec<(Result<CertFacts, String>, bool, Level, &str)> = vec![
        (
            Ok(facts(NOW + 30 * DAY)),
            false,
            Level::Ok,
            "valid until 2027-01-06 (30 days)",
        ),
        (
            Ok(facts(NOW + 10 * DAY)),
            false,
            Level::Warning,
            "expires in 10 days, on 2026-12-17",
        ),
        (
            Ok(facts(NOW + 2 * DAY)),
            false,
            Level::Critical,
            "expires in 2 days, on 2026-12-09",
        ),
        (
            Ok(facts(NOW - DAY)),
            false,
            Level::Critical,
            "expired on 2026-12-06",
        ),
        (
            Ok(wrong_host),
            false,
            Level::Critical,
            "issued for other.example, not bot.example",
        ),
        (
            Ok(self_signed.clone()),
            false,
            Level::Critical,
            "self-signed and webhook.certificate is not set",
        ),
        (
            Ok(self_signed),
            true,
            Level::Critical,
            "not the certificate in webhook.certificate",
        ),
        (
            Err("connection refused".into()),
            false,
            Level::Warning,
            "cannot read the TLS certificate of bot.example",
        ),
    ];
    for (i, (f, uploaded, level, says)) in cases.into_iter().enumerate() {
        let got = judge(&reading(f), NOW, &t, uploaded);
        assert_eq!(got.incident, incident::TLS_CERTIFICATE);
        assert_eq!(got.level, level, "case {i}: {}", got.reason);
        assert!(got.reason.contains(says), "case {i}: {}", got.reason);
    }
    // The thresholds are the configured ones.
    let t = TlsConfig {
        warn_days: 40,
        critical_days: 35,
        ..TlsConfig::default()
    };
    let got = judge(&reading(Ok(facts(NOW + 30 * DAY))), NOW, &t, false);
    assert_eq!(got.level, Level::Critical, "{}", got.reason);
}

#[test]
fn trust_comes_from_the_roots_given_or_the_uploaded_certificate_and_names_from_the_san() {
    let ca = TestCa::new(NOW);
    let ca_der: Vec<_> = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes())
            .filter_map(Result::ok)
            .collect()
    };
    let leaf = ca.issue(&["bot.example"], NOW - DAY, NOW + 30 * DAY);
    let f = probe::assess(&leaf.chain, "bot.example", &ca_der, &[], NOW).unwrap();
    assert!(
        f.trusted && f.host_ok && !f.self_signed && !f.pinned,
        "{f:?}"
    );
    assert_eq!(f.names, vec!["bot.example".to_string()]);
    // Without the CA it chains to nothing known.
    let f = probe::assess(&leaf.chain, "bot.example", &[], &[], NOW).unwrap();
    assert!(!f.trusted && f.trust_error.is_some(), "{f:?}");
    // Another host's certificate: trusted, but not for this host.
    let f = probe::assess(&leaf.chain, "other.example", &ca_der, &[], NOW).unwrap();
    assert!(f.trusted && !f.host_ok, "{f:?}");
    // Expired: trust is judged within its validity, the date by judge().
    let old = ca.issue(&["bot.example"], NOW - 90 * DAY, NOW - DAY);
    let f = probe::assess(&old.chain, "bot.example", &ca_der, &[], NOW).unwrap();
    assert!(f.trusted && f.not_after == NOW - DAY, "{f:?}");
    // Self-signed: trusted only as the uploaded webhook.certificate.
    let own = self_signed(&["bot.example"], NOW - DAY, NOW + 30 * DAY);
    let f = probe::assess(&own.chain, "bot.example", &[], &[], NOW).unwrap();
    assert!(!f.trusted && f.self_signed, "{f:?}");
    let f = probe::assess(&own.chain, "bot.example", &own.chain, &own.chain, NOW).unwrap();
    assert!(f.trusted && f.pinned, "{f:?}");
}

#[test]
fn an_ssl_error_at_telegram_names_the_certificate_on_the_webhooks_finding() {
    let t = TlsConfig::default();
    let expired = judge(&reading(Ok(facts(NOW - DAY))), NOW, &t, false);
    let stuck = || {
        Finding::new(
            "telegram",
            incident::WEBHOOK_STUCK,
            Level::Critical,
            "12 updates are stuck at Telegram",
        )
    };
    let ssl = "SSL error {error:0A000086:SSL routines::certificate verify failed}";
    let mut fs = vec![stuck(), expired.clone()];
    explain(&mut fs, Some(ssl));
    assert!(
        fs[0].reason.ends_with(
            "the cause is the bot's TLS certificate: it expired on 2026-12-06 (tls-certificate)"
        ),
        "{}",
        fs[0].reason
    );
    assert!(fs[1].reason.contains(ssl), "{}", fs[1].reason);
    let wrong = judge(
        &reading(Ok(CertFacts {
            host_ok: false,
            names: vec!["old.example".into()],
            ..facts(NOW + 90 * DAY)
        })),
        NOW,
        &t,
        false,
    );
    let mut fs = vec![stuck(), wrong];
    explain(
        &mut fs,
        Some(
            "https://core.telegram.org/bots/self-signed{error:0A000086:SSL routines::certificate verify failed}",
        ),
    );
    assert!(
        fs[0]
            .reason
            .contains("issued for old.example, not bot.example"),
        "{}",
        fs[0].reason
    );
    // Another error, or a good certificate: nothing is blamed on it.
    for (cert, err) in [
        (
            expired,
            "Wrong response from the webhook: 500 Internal Server Error",
        ),
        (
            judge(&reading(Ok(facts(NOW + 90 * DAY))), NOW, &t, false),
            ssl,
        ),
    ] {
        let mut fs = vec![stuck(), cert];
        explain(&mut fs, Some(err));
        assert_eq!(fs[0].reason, "12 updates are stuck at Telegram");
    }
    assert!(is_tls_error(
        "SSL error {337047686, error:1416F086:SSL routines:tls_process_server_certificate:certificate verify failed}"
    ));
    assert!(!is_tls_error("Connection refused"));
}
