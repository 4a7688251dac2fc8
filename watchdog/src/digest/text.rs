//! A [`Digest`] as a message, as a pure function: the checklist rows (each met, missed or
//! without figures), memory, incidents, actions and the watchdog's own runs; plain text and
//! HTML (escaped), every piece redacted.

use std::fmt::Write as _;

use telbot_alerts::{Level as AlertLevel, Message};
use telbot_alerts::{format_time, html_escape};
use telbot_shared::redact::Redactor;

use super::{Digest, Series};
use crate::report::Level;

/// How a checklist row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The target is met.
    Ok,
    /// The target is missed: someone should look.
    Look,
    /// No figures in the period (the check did not run or the bot did not answer).
    Unknown,
}

impl Mark {
    fn as_str(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Look => "LOOK",
            Mark::Unknown => "n/a",
        }
    }
}

/// One checklist row: how it stands, what, the figures, the target.
pub(crate) type Row = (Mark, &'static str, String, String);

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

/// The checklist rows of the ops notes' daily check.
pub(crate) fn checklist(d: &Digest) -> Vec<Row> {
    let row = |s: &Option<Series>,
               ok: &dyn Fn(&Series) -> bool,
               show: &dyn Fn(&Series) -> String| {
        match s {
            Some(s) => (if ok(s) { Mark::Ok } else { Mark::Look }, show(s)),
            None => (Mark::Unknown, "no figures in the last 24 h".to_string()),
        }
    };
    let (m1, v1) = row(&d.pending, &|s| s.last == 0.0, &|s| {
        format!("{} now (highest {})", s.last, s.max)
    });
    let target = d.success_target;
    let (m2, v2) = row(
        &d.success_percent,
        &|s| s.last > target && s.min > target,
        &|s| {
            format!(
                "{:.1} % in the latest window (lowest {:.1} %)",
                s.last, s.min
            )
        },
    );
    let limit = d.response_target_ms as f64;
    let (m3, v3) = row(&d.response_ms, &|s| s.max < limit, &|s| {
        format!("{:.0} ms now (highest {:.0} ms)", s.last, s.max)
    });
    let felt = d.user_p95_target_ms as f64;
    let (m6, v6) = row(&d.user_p95_ms, &|s| s.max <= felt, &|s| {
        format!(
            "{:.0} ms in the latest hour (highest {:.0} ms)",
            s.last, s.max
        )
    });
    let handled = d.handled_target;
    let (m7, v7) = row(&d.handled_percent, &|s| s.min >= handled, &|s| {
        format!("{:.1} % in the latest hour (lowest {:.1} %)", s.last, s.min)
    });
    let (m8, v8) = match d.delivery_runs {
        [0, _] => (Mark::Unknown, "no figures in the last 24 h".to_string()),
        [runs, erroring] => (
            if erroring == 0 { Mark::Ok } else { Mark::Look },
            format!(
                "{:.1} % of {runs} checks saw no recent delivery error",
                100.0 * (runs - erroring.min(runs)) as f64 / runs as f64
            ),
        ),
    };
    let (m4, v4) = row(&d.parked, &|s| s.last == 0.0, &|s| {
        format!("{} now (highest {})", s.last, s.max)
    });
    let open: Vec<&super::SeenIncident> = d.incidents.iter().filter(|i| i.open).collect();
    let (m5, v5) = if open.is_empty() {
        (Mark::Ok, "none".to_string())
    } else {
        let list = open
            .iter()
            .map(|i| match &i.acked_by {
                Some(by) => format!("{} ({}, acknowledged by {by})", i.key, i.worst),
                None => format!("{} ({}, not acknowledged)", i.key, i.worst),
            })
            .collect::<Vec<_>>()
            .join(", ");
        (Mark::Look, list)
    };
    vec![
        (m1, "Pending updates at Telegram", v1, "0".into()),
        (m2, "Handler success rate", v2, format!("> {target} %")),
        (
            m3,
            "/health response time",
            v3,
            format!("< {} s", d.response_target_ms as f64 / 1000.0),
        ),
        (
            m6,
            "Users answered within (p95, update stored → handled)",
            v6,
            format!("< {} s", felt / 1000.0),
        ),
        (
            m7,
            "Updates handled, not parked",
            v7,
            format!("> {handled} %"),
        ),
        (
            m8,
            "Telegram's deliveries to the webhook",
            v8,
            "no errors".into(),
        ),
        (m4, "Parked updates", v4, "0".into()),
        (m5, "Open incidents (dashboard alerts)", v5, "none".into()),
    ]
}

/// The memory line: now, a day ago, the change, the highest, the limit.
fn memory(d: &Digest) -> String {
    match &d.rss_bytes {
        Some(s) => {
            let change = s.last - s.first;
            let sign = if change >= 0.0 { "+" } else { "-" };
            let mut m = format!(
                "{} now, {} at the start of the period ({sign}{}), highest {}",
                mib(s.last),
                mib(s.first),
                mib(change.abs()),
                mib(s.max)
            );
            if let Some(l) = d.rss_limit_bytes {
                let _ = write!(m, "; restart limit {}", mib(l as f64));
            }
            m
        }
        None => "no figures in the last 24 h".into(),
    }
}

fn incident_lines(d: &Digest) -> Vec<String> {
    d.incidents
        .iter()
        .map(|i| {
            let state = if i.open { "open now" } else { "cleared" };
            format!(
                "{}: {}, {} failing run(s), {} to {} ({state})",
                i.key,
                i.worst,
                i.failing_runs,
                format_time(i.first_seen),
                format_time(i.last_seen)
            )
        })
        .collect()
}

fn action_lines(d: &Digest) -> Vec<String> {
    d.actions
        .iter()
        .map(|a| {
            let detail = if a.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", a.detail)
            };
            format!("{} {} {}{detail}", format_time(a.at), a.kind, a.result)
        })
        .collect()
}

/// Builds the digest message. Pure: same digest, same message.
pub(crate) fn render(d: &Digest, redactor: &Redactor) -> Message {
    let r = |s: &str| redactor.redact(s);
    let rows = checklist(d);
    let look = rows.iter().filter(|x| x.0 == Mark::Look).count();
    let verdict = match look {
        0 => "all targets met".to_string(),
        n => format!("{n} item(s) need a look"),
    };
    let subject = r(&format!("[DIGEST] {}: daily check, {verdict}", d.bot));
    let period = format!("{} to {}", format_time(d.from), format_time(d.to));
    let [ok, warn, crit] = d.runs;
    let runs = format!(
        "{} ({ok} ok, {warn} warning, {crit} critical)",
        ok + warn + crit
    );
    let memory = memory(d);
    let incidents = incident_lines(d);
    let actions = action_lines(d);

    let mut t = format!(
        "Daily check of {}, {period}: {verdict}.\n\nChecklist:\n",
        d.bot
    );
    for (m, what, v, target) in &rows {
        let _ = writeln!(t, "  [{:<4}] {what}: {v} (target {target})", m.as_str());
    }
    let _ = writeln!(t, "\nMemory (RSS): {memory}");
    let _ = writeln!(t, "\nIncidents in the last 24 h:");
    if incidents.is_empty() {
        let _ = writeln!(t, "  none");
    }
    for l in &incidents {
        let _ = writeln!(t, "  - {l}");
    }
    let _ = writeln!(t, "\nWatchdog actions in the last 24 h:");
    if actions.is_empty() {
        let _ = writeln!(t, "  none");
    }
    for l in &actions {
        let _ = writeln!(t, "  - {l}");
    }
    let _ = writeln!(t, "\nThe watchdog's runs in the last 24 h: {runs}");

    let e = |s: &str| html_escape(s);
    let mut h = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(
        h,
        "<h2>Daily check of {}: {}</h2><p>{}</p><table><tr><th></th><th align=\"left\">item</th><th align=\"left\">figures</th><th align=\"left\">target</th></tr>",
        e(&d.bot),
        e(&verdict),
        e(&period)
    );
    for (m, what, v, target) in &rows {
        let colour = match m {
            Mark::Ok => "#2eb886",
            Mark::Look => "#d0021b",
            Mark::Unknown => "#888888",
        };
        let _ = write!(
            h,
            "<tr><td style=\"color:{colour}\"><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.as_str(),
            e(what),
            e(v),
            e(target)
        );
    }
    let _ = write!(h, "</table><p><b>Memory (RSS):</b> {}</p>", e(&memory));
    for (title, lines) in [
        ("Incidents in the last 24 h", &incidents),
        ("Watchdog actions in the last 24 h", &actions),
    ] {
        let _ = write!(h, "<h3>{}</h3><ul>", e(title));
        if lines.is_empty() {
            h.push_str("<li>none</li>");
        }
        for l in lines {
            let _ = write!(h, "<li>{}</li>", e(l));
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<p>The watchdog's runs in the last 24 h: {}</p></body></html>",
        e(&runs)
    );
    let worst = d.incidents.iter().filter(|i| i.open).map(|i| i.worst).max();
    Message {
        subject,
        text: r(&t),
        html: r(&h),
        level: match (look, worst) {
            (_, Some(Level::Critical)) => AlertLevel::Critical,
            (0, _) => AlertLevel::Ok,
            _ => AlertLevel::Warning,
        },
        resolved: false,
        incident: "daily-digest".into(),
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
