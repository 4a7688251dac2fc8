//! `tls-certificate`: the certificate Telegram has to trust. Telegram verifies the webhook's
//! certificate (public roots or the uploaded `webhook.certificate`; the name must match;
//! intermediates must be sent) and reports a failure only as `last_error_message: "SSL error
//! {…certificate verify failed}"` — after deliveries have already stopped. The watchdog reads
//! the certificate of PUBLIC_URL's host itself ([`probe`]) and warns `warn_days` before it
//! expires, pages `critical_days` before, and pages an expired, foreign-host or untrusted one.
//!
//! Only for an `https://` PUBLIC_URL (an http one — loopback, a local Bot API server — is
//! skipped with no finding). Read at most every `watchdog.tls.every`: the reading is kept in
//! the store (kv [`KV_READING`]) and judged against the clock at every performance run.
//! [`explain`] ties Telegram's SSL errors to the certificate, so the e-mail names the cause.

pub mod der;
pub mod probe;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::TlsConfig;
use crate::context::Ctx;
use crate::report::{Finding, Level, incident};
use probe::CertFacts;

const CHECK: &str = "tls";

/// The `kv` key of the last reading.
pub const KV_READING: &str = "watchdog.tls_certificate";

/// Where the certificate is read: PUBLIC_URL's host (SNI, name check) and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// PUBLIC_URL's host.
    pub host: String,
    /// `host:port`, or `watchdog.tls.connect`.
    pub addr: String,
}

impl Target {
    /// The target of an `https://` URL; `None` for any other.
    pub fn of(public_url: &str, connect: Option<&str>) -> Option<Target> {
        let url = url::Url::parse(public_url).ok()?;
        if url.scheme() != "https" {
            return None;
        }
        let raw = url.host_str()?;
        let host = raw.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(443);
        let addr = connect.map_or_else(|| format!("{raw}:{port}"), str::to_string);
        Some(Target {
            host: host.to_string(),
            addr,
        })
    }
}

/// One reading of the certificate, as kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// The host it was read for.
    pub host: String,
    /// The address it was read from.
    pub addr: String,
    /// When (unix seconds).
    pub at: i64,
    /// What the certificate says, or why it could not be read.
    pub facts: Result<CertFacts, String>,
}

/// Reads the certificate now.
pub async fn read(ctx: &Ctx, target: &Target) -> Reading {
    let now = ctx.clock.now();
    let mut anchors = ctx.cfg.tls.extra_roots.clone();
    let pinned: Vec<_> = ctx
        .cfg
        .webhook
        .certificate
        .as_ref()
        .map(|c| {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::CertificateDer::pem_slice_iter(c.pem())
                .filter_map(Result::ok)
                .collect()
        })
        .unwrap_or_default();
    anchors.extend(pinned.iter().cloned());
    let facts = match probe::read_chain(&target.addr, &target.host, ctx.cfg.http_timeout).await {
        Ok(chain) => probe::assess(&chain, &target.host, &anchors, &pinned, now),
        Err(e) => Err(e),
    };
    Reading {
        host: target.host.clone(),
        addr: target.addr.clone(),
        at: now,
        facts: facts.map_err(|e| e.to_string()),
    }
}

/// The `tls-certificate` finding, or `None` for a PUBLIC_URL that is not https. Reads the
/// certificate when the kept reading is older than `every` (only the leader, `keep`, writes
/// it back).
pub async fn check(ctx: &Ctx, keep: bool) -> Option<Finding> {
    // The expected webhook URL is PUBLIC_URL + webhook.path: same scheme, host and port.
    let target = Target::of(
        &ctx.cfg.webhook.expected_url,
        ctx.cfg.tls.connect.as_deref(),
    )?;
    let now = ctx.clock.now();
    let every = ctx.cfg.tls.every.as_secs() as i64;
    let kept = match ctx.store.db().kv_get(KV_READING).await {
        Ok(v) => v.and_then(|v| serde_json::from_str::<Reading>(&v).ok()),
        Err(_) => None,
    }
    .filter(|r| {
        r.host == target.host && r.addr == target.addr && r.at <= now && now - r.at < every
    });
    let reading = match kept {
        Some(r) => r,
        None => {
            let r = read(ctx, &target).await;
            if keep
                && let Ok(text) = serde_json::to_string(&r)
                && let Err(e) = ctx.store.db().kv_set(KV_READING, &text).await
            {
                tracing::warn!(error = %e, "cannot keep the TLS certificate reading; it is read again next run");
            }
            r
        }
    };
    let f = judge(
        &reading,
        now,
        &ctx.cfg.tls,
        ctx.cfg.webhook.certificate.is_some(),
    );
    Some(Finding {
        reason: ctx.redact(&f.reason),
        ..f
    })
}

/// Judges a reading at `now`. Pure. The finding's evidence holds `cause`: the words the
/// webhook's e-mail uses when Telegram reports an SSL error ([`explain`]).
pub fn judge(r: &Reading, now: i64, t: &TlsConfig, has_uploaded: bool) -> Finding {
    let host = &r.host;
    let facts = match &r.facts {
        Ok(f) => f,
        Err(e) => {
            return Finding::new(
                CHECK,
                incident::TLS_CERTIFICATE,
                Level::Warning,
                format!(
                    "cannot read the TLS certificate of {host} ({}): {e}",
                    r.addr
                ),
            )
            .with_evidence(json!({ "host": host, "addr": r.addr, "error": e, "read_at": r.at }));
        }
    };
    let until = der::date(facts.not_after);
    let days_left = (facts.not_after - now).div_euclid(86_400);
    let mut problems: Vec<(Level, String)> = Vec::new();
    if facts.not_after <= now {
        problems.push((Level::Critical, format!("it expired on {until}")));
    }
    if !facts.host_ok {
        let names = if facts.names.is_empty() {
            "no host name".to_string()
        } else {
            facts.names.join(", ")
        };
        problems.push((
            Level::Critical,
            format!("it is issued for {names}, not {host}"),
        ));
    }
    if !facts.trusted {
        let why = if facts.self_signed && !has_uploaded {
            "it is self-signed and webhook.certificate is not set (Telegram trusts a self-signed certificate only when it is uploaded)".to_string()
        } else if has_uploaded {
            format!(
                "it is not the certificate in webhook.certificate, and {}",
                facts.trust_error.clone().unwrap_or_default()
            )
        } else {
            format!(
                "it is not trusted: {}",
                facts.trust_error.clone().unwrap_or_default()
            )
        };
        problems.push((Level::Critical, why));
    }
    if facts.not_after > now {
        if days_left < i64::from(t.critical_days) {
            problems.push((
                Level::Critical,
                format!("it expires in {}, on {until}", days(days_left)),
            ));
        } else if days_left < i64::from(t.warn_days) {
            problems.push((
                Level::Warning,
                format!("it expires in {}, on {until}", days(days_left)),
            ));
        }
    }
    let level = problems.iter().map(|p| p.0).max().unwrap_or(Level::Ok);
    let cause = problems
        .iter()
        .filter(|p| p.0 == level)
        .map(|p| p.1.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let evidence = json!({
        "host": host,
        "addr": r.addr,
        "not_after": facts.not_after,
        "not_after_date": until,
        "days_left": days_left,
        "names": facts.names,
        "host_ok": facts.host_ok,
        "trusted": facts.trusted,
        "self_signed": facts.self_signed,
        "read_at": r.at,
        "cause": cause,
    });
    let reason = if level == Level::Ok {
        format!(
            "the TLS certificate of {host} is valid until {until} ({}), trusted and issued for it",
            days(days_left)
        )
    } else {
        let all: Vec<&str> = problems.iter().map(|p| p.1.as_str()).collect();
        format!("the TLS certificate of {host}: {}", all.join("; "))
    };
    Finding::new(CHECK, incident::TLS_CERTIFICATE, level, reason).with_evidence(evidence)
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// Telegram's delivery error is a TLS one (`SSL error {…}`, the production
/// `…/bots/self-signed{error:…}` form, `Can't create an SSL connection`).
pub fn is_tls_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("ssl error")
        || m.contains("certificate verify failed")
        || m.contains("can't create an ssl")
        || m.contains("bots/self-signed")
}

/// When Telegram's last delivery error is a TLS one and the certificate is at fault, says so
/// on both findings: the webhook's (its e-mail then names the cause: "expired on DATE",
/// "issued for OTHER HOST") and the certificate's (it quotes Telegram's error).
pub fn explain(findings: &mut [Finding], last_error: Option<&str>) {
    let Some(err) = last_error.filter(|e| is_tls_error(e)) else {
        return;
    };
    let Some(cause) = findings
        .iter()
        .find(|f| f.incident == incident::TLS_CERTIFICATE && f.level > Level::Ok)
        .and_then(|f| f.evidence["cause"].as_str().map(str::to_string))
        .filter(|c| !c.is_empty())
    else {
        return;
    };
    for f in findings.iter_mut() {
        if f.incident == incident::TLS_CERTIFICATE && f.level > Level::Ok {
            f.reason = format!("{} — Telegram's deliveries fail on it: {err}", f.reason);
        } else if f.incident == incident::WEBHOOK_STUCK && f.level > Level::Ok {
            f.reason = format!(
                "{} — the cause is the bot's TLS certificate: {cause} (tls-certificate)",
                f.reason
            );
        }
    }
}

#[cfg(test)]
mod tests;
