//! Secrets out of the dashboard's figures while they are still raw text: every string of a
//! [`Snapshot`] goes through the config's redactor *before* the page escapes it for HTML or
//! the data route escapes it for JSON. Redacting the escaped output instead misses a secret
//! holding `& < > " '` (it is `&amp;`, `&lt;`, `\"` there). The redactor also masks the
//! percent-encoded forms of each secret (see [`telbot_shared::redact`]).

use telbot_shared::redact::Redactor;

use super::snapshot::Snapshot;

/// Masks every known secret in every string of `s`.
pub(crate) fn redact(s: &mut Snapshot, r: &Redactor) {
    let one = |v: &mut String| {
        let clean = r.redact(v);
        if clean != *v {
            *v = clean;
        }
    };
    let opt = |v: &mut Option<String>| {
        if let Some(v) = v {
            one(v);
        }
    };
    one(&mut s.bot_name);
    one(&mut s.version);
    one(&mut s.mode);
    s.reasons.iter_mut().for_each(one);
    let w = &mut s.webhook;
    one(&mut w.url);
    one(&mut w.expected_url);
    opt(&mut w.last_error);
    w.problems.iter_mut().for_each(one);
    for a in &mut s.watchdog.actions {
        one(&mut a.kind);
        one(&mut a.reason);
        one(&mut a.result);
        opt(&mut a.detail);
    }
    for a in &mut s.watchdog.alerts {
        one(&mut a.incident_key);
        one(&mut a.level);
        one(&mut a.channel);
        one(&mut a.subject);
        one(&mut a.status);
    }
    opt(&mut s.watchdog.error);
    for c in &mut s.charts {
        one(&mut c.y_max);
        one(&mut c.span);
        for l in &mut c.lines {
            one(&mut l.path);
            one(&mut l.last);
        }
    }
    s.tables.values_mut().flatten().flatten().for_each(one);
    s.display.values_mut().for_each(one);
}
