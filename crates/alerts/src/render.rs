//! Message building, as a pure function: [`render`] turns a [`Notice`] into a subject, a
//! plain-text part and an HTML part. Every piece of outside text is redacted before it is
//! escaped, and the finished parts are redacted again.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use telbot_shared::redact::Redactor;
use url::Url;

use crate::model::{Level, Observation};

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The incident just opened.
    Opened,
    /// Still open after the repeat interval.
    Repeat,
    /// Its level rose (warning → critical) or a silence on it ended.
    Update,
    /// It cleared.
    Resolved,
    /// `watchdog test-alert`.
    Test,
    /// A recovery drill's report (`watchdog drill`): sent whatever its outcome.
    Drill,
    /// Still open and unacknowledged after `alerts.escalate_after`: to the escalation
    /// channels as well.
    Escalation,
}

impl NoticeKind {
    /// As stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Opened => "opened",
            NoticeKind::Repeat => "repeat",
            NoticeKind::Update => "update",
            NoticeKind::Resolved => "resolved",
            NoticeKind::Test => "test",
            NoticeKind::Drill => "drill",
            NoticeKind::Escalation => "escalation",
        }
    }
}

/// Everything a message says.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// Why it is sent.
    pub kind: NoticeKind,
    /// The incident's level (the highest seen while open, for a resolved one).
    pub level: Level,
    /// The latest failing observation: what broke, the evidence, the actions, the next step.
    pub observation: &'a Observation,
    /// When the failure was first seen (unix seconds).
    pub since: i64,
    /// Now (unix seconds); for a resolved incident, when it cleared.
    pub now: i64,
}

/// What does not change between messages.
#[derive(Debug, Clone, Copy)]
pub struct RenderCtx<'a> {
    /// The bot's name, in every subject.
    pub bot_name: &'a str,
    /// The dashboard link, when known.
    pub dashboard_url: Option<&'a Url>,
    /// Holds every configured secret.
    pub redactor: &'a Redactor,
}

/// A rendered message, ready for any channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line, beginning `[CRITICAL]`, `[WARNING]` or `[RESOLVED]`.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part (everything escaped).
    pub html: String,
    /// The incident's level (chat channels colour by it).
    pub level: Level,
    /// Whether this is a RESOLVED message.
    pub resolved: bool,
    /// The incident key it is about (paging channels dedup by it).
    pub incident: String,
}

/// Escapes text for HTML element content and attribute values (the one escape of the
/// workspace, [`telbot_shared::html::escape`]).
pub use telbot_shared::html::escape as html_escape;

/// Unix seconds as `2025-06-01T02:00:00Z`.
pub fn format_time(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Seconds as `1h 5m`.
pub(crate) fn format_age(secs: i64) -> String {
    let secs = secs.max(0) as u64;
    let rounded = if secs >= 3600 { secs - secs % 60 } else { secs };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

/// The evidence as `path: value` lines (nested objects flattened with dots), at most 40.
pub(crate) fn evidence_lines(v: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, &p, out);
                }
            }
            serde_json::Value::Null if prefix.is_empty() => {}
            serde_json::Value::String(s) => out.push((prefix.to_string(), truncate(s, 300))),
            other => out.push((prefix.to_string(), truncate(&other.to_string(), 300))),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    for (k, _) in out.iter_mut() {
        if k.is_empty() {
            *k = "value".into();
        }
    }
    out.truncate(40);
    out
}

/// One line: no control characters, at most 150 characters.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(
        flat.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
        150,
    )
}

/// What a RESOLVED message says recovered: the observation's own words, else `<key> cleared`.
fn recovered_text(obs: &Observation) -> String {
    match obs.recovered.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => format!("{} cleared", obs.key),
    }
}

/// Builds the message. Pure: same input, same output.
pub fn render(n: &Notice<'_>, ctx: &RenderCtx<'_>) -> Message {
    let r = |s: &str| ctx.redactor.redact(s);
    let obs = n.observation;
    let resolved = n.kind == NoticeKind::Resolved;
    let tag = match (resolved, n.level) {
        (true, _) => "RESOLVED",
        _ if n.kind == NoticeKind::Drill => "DRILL",
        (false, Level::Critical) => "CRITICAL",
        (false, _) => "WARNING",
    };
    let what = one_line(&r(&obs.summary));
    let age = format_age(n.now - n.since);
    let suffix = match n.kind {
        NoticeKind::Repeat => " (still open)".to_string(),
        NoticeKind::Escalation => format!(" (escalated: open {age}, not acknowledged)"),
        _ => String::new(),
    };
    let recovered = one_line(&r(&recovered_text(obs)));
    let subject = if resolved {
        // What recovered and how long it lasted; the failure text is in the body.
        let bot = one_line(ctx.bot_name);
        let key = one_line(&obs.key);
        match obs.recovered.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => r(&format!(
                "[RESOLVED] {bot}: {recovered} ({key} lasted {age})"
            )),
            _ => r(&format!("[RESOLVED] {bot}: {key} cleared after {age}")),
        }
    } else {
        r(&format!(
            "[{tag}] {}: {what}{suffix}",
            one_line(ctx.bot_name)
        ))
    };

    let headline = match n.kind {
        NoticeKind::Resolved => format!("Resolved: {recovered}, after {age}"),
        NoticeKind::Test => {
            "This is a test alert from the watchdog. No action is needed.".to_string()
        }
        NoticeKind::Drill => format!("Recovery drill: {what}"),
        NoticeKind::Escalation => {
            format!("ESCALATED: {what} (open for {age} and nobody acknowledged it)")
        }
        _ => format!("{tag}: {what}"),
    };
    let what_label = if resolved { "What was wrong" } else { "What" };
    let mut facts: Vec<(&str, String)> = vec![
        ("Bot", ctx.bot_name.to_string()),
        ("Incident", obs.key.clone()),
        (what_label, what.clone()),
    ];
    if n.kind == NoticeKind::Resolved {
        facts.push(("Failing since", format_time(n.since)));
        facts.push((
            "Resolved at",
            format!("{} (after {age})", format_time(n.now)),
        ));
    } else if !matches!(n.kind, NoticeKind::Test | NoticeKind::Drill) {
        facts.push((
            "Failing since",
            format!("{} ({age} ago)", format_time(n.since)),
        ));
        facts.push(("Checked at", format_time(n.now)));
        facts.push(("Acknowledge", format!("watchdog ack {}", obs.key)));
    } else {
        facts.push(("Sent at", format_time(n.now)));
    }
    let facts: Vec<(&str, String)> = facts.into_iter().map(|(k, v)| (k, r(&v))).collect();
    let evidence: Vec<(String, String)> = evidence_lines(&obs.evidence)
        .into_iter()
        .map(|(k, v)| (r(&k), r(&v)))
        .collect();
    let actions: Vec<(String, String, String)> = obs
        .actions
        .iter()
        .map(|a| (r(&a.kind), r(&a.result), r(&a.detail)))
        .collect();
    let next = obs
        .runbook_cmd
        .as_deref()
        .map(r)
        .filter(|c| !c.trim().is_empty() && !resolved);
    let dash = ctx.dashboard_url.map(|u| r(u.as_str()));

    // Plain text.
    let mut t = String::new();
    let _ = writeln!(t, "{headline}\n");
    for (k, v) in &facts {
        let _ = writeln!(t, "{k}: {v}");
    }
    let evidence_title = if resolved {
        "Evidence (the last failing check)"
    } else {
        "Evidence"
    };
    if !evidence.is_empty() {
        let _ = writeln!(t, "\n{evidence_title}:");
        for (k, v) in &evidence {
            let _ = writeln!(t, "  {k}: {v}");
        }
    }
    if !actions.is_empty() {
        let _ = writeln!(t, "\nWhat the watchdog already did:");
        for (k, res, d) in &actions {
            let d = if d.is_empty() {
                String::new()
            } else {
                format!(" ({d})")
            };
            let _ = writeln!(t, "  - {k}: {res}{d}");
        }
    }
    if let Some(cmd) = &next {
        let _ = writeln!(t, "\nNext step:\n  {cmd}");
    }
    if let Some(d) = &dash {
        let _ = writeln!(t, "\nDashboard: {d}");
    }

    // HTML.
    let e = |s: &str| html_escape(s);
    let mut h = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(h, "<h2>{}</h2><table>", e(&headline));
    for (k, v) in &facts {
        let _ = write!(
            h,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            e(k),
            e(v)
        );
    }
    h.push_str("</table>");
    if !evidence.is_empty() {
        let _ = write!(h, "<h3>{}</h3><table>", e(evidence_title));
        for (k, v) in &evidence {
            let _ = write!(
                h,
                "<tr><th align=\"left\"><code>{}</code></th><td><code>{}</code></td></tr>",
                e(k),
                e(v)
            );
        }
        h.push_str("</table>");
    }
    if !actions.is_empty() {
        h.push_str("<h3>What the watchdog already did</h3><ul>");
        for (k, res, d) in &actions {
            let d = if d.is_empty() {
                String::new()
            } else {
                format!(" ({})", e(d))
            };
            let _ = write!(h, "<li><b>{}</b>: {}{d}</li>", e(k), e(res));
        }
        h.push_str("</ul>");
    }
    if let Some(cmd) = &next {
        let _ = write!(h, "<h3>Next step</h3><pre>{}</pre>", e(cmd));
    }
    if let Some(d) = &dash {
        let _ = write!(h, "<p><a href=\"{0}\">Dashboard: {0}</a></p>", e(d));
    }
    h.push_str("</body></html>");

    Message {
        subject,
        text: r(&t),
        html: r(&h),
        level: n.level,
        resolved,
        incident: obs.key.clone(),
    }
}

/// At most `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
