//! A [`Weekly`] as a message, as a pure function: incidents with how long they lasted, the
//! grouped errors, each figure against its threshold (with a note where the threshold is
//! never or always crossed), the last drill and its age, and the configuration backup; plain
//! text and HTML (escaped), every piece redacted.

use std::fmt::Write as _;

use telbot_alerts::{Level as AlertLevel, Message};
use telbot_alerts::{format_time, html_escape};
use telbot_shared::redact::Redactor;

use super::Weekly;
use crate::digest::Series;

/// A drill older than this is overdue ("test emergency recovery procedures" weekly).
const DRILL_DUE_SECS: i64 = 8 * 24 * 3600;

/// One figure against its threshold: what, the figures, the note (empty: nothing to say).
pub(crate) type Figure = (&'static str, String, String);

/// `above`: the threshold is an upper bound (crossed when the figure is above it).
fn judge(name: &'static str, s: &Option<Series>, t: f64, above: bool, unit: &str) -> Figure {
    let Some(s) = s else {
        return (name, "no figures this week".into(), String::new());
    };
    let figures = format!(
        "lowest {:.1}{unit}, highest {:.1}{unit}, latest {:.1}{unit} ({} readings; threshold {t}{unit})",
        s.min, s.max, s.last, s.count
    );
    let (always, never) = if above {
        (s.min > t, s.max <= t)
    } else {
        (s.max < t, s.min >= t)
    };
    let note = if always {
        "ALWAYS crossed this week: the bot never met it, or the threshold does not fit this bot — update the monitoring threshold if needed".to_string()
    } else if never {
        "never crossed this week (fine; if it can never fire, it may be too loose)".to_string()
    } else {
        String::new()
    };
    (name, figures, note)
}

/// The figures against their thresholds.
pub(crate) fn figures(w: &Weekly) -> Vec<Figure> {
    let d = &w.digest;
    vec![
        judge("Pending updates at Telegram", &d.pending, 0.0, true, ""),
        judge(
            "Handler success rate",
            &d.success_percent,
            d.success_target,
            false,
            " %",
        ),
        judge(
            "/health response time",
            &d.response_ms,
            d.response_target_ms as f64,
            true,
            " ms",
        ),
        judge(
            "Users answered within (p95, stored → handled)",
            &d.user_p95_ms,
            d.user_p95_target_ms as f64,
            true,
            " ms",
        ),
        judge(
            "Updates handled, not parked",
            &d.handled_percent,
            d.handled_target,
            false,
            " %",
        ),
    ]
}

fn lasted(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The drill line: when, passed or not, and whether it is overdue.
pub(crate) fn drill_line(w: &Weekly) -> (bool, String) {
    let now = w.digest.to;
    match &w.last_drill {
        None => (
            false,
            "no drill on record: run `watchdog drill` (or set watchdog.schedule.drill) to test the emergency recovery".into(),
        ),
        Some(d) => {
            let age = now - d.at;
            let due = age > DRILL_DUE_SECS;
            let verdict = if d.passed { "passed" } else { "FAILED" };
            let mut l = format!(
                "{verdict} at {} ({} ago): {}",
                format_time(d.at),
                lasted(age),
                d.reason
            );
            if due {
                l.push_str(" — overdue: run `watchdog drill`");
            }
            (d.passed && !due, l)
        }
    }
}

/// Builds the weekly message. Pure: same report, same message.
pub(crate) fn render(w: &Weekly, redactor: &Redactor) -> Message {
    let r = |s: &str| redactor.redact(s);
    let d = &w.digest;
    let figs = figures(w);
    let (drill_ok, drill) = drill_line(w);
    let always = figs.iter().filter(|f| f.2.starts_with("ALWAYS")).count();
    let open = d.incidents.iter().filter(|i| i.open).count();
    let look = always + usize::from(!drill_ok) + open;
    let verdict = match look {
        0 => "nothing needs a look".to_string(),
        n => format!("{n} item(s) need a look"),
    };
    let subject = r(&format!("[WEEKLY] {}: weekly check, {verdict}", d.bot));
    let period = format!("{} to {}", format_time(d.from), format_time(d.to));

    let mut t = format!("Weekly check of {}, {period}: {verdict}.\n", d.bot);
    let _ = writeln!(t, "\nIncidents this week:");
    if d.incidents.is_empty() {
        let _ = writeln!(t, "  none");
    }
    for i in &d.incidents {
        let state = if i.open { "open now" } else { "cleared" };
        let _ = writeln!(
            t,
            "  - {}: {}, {} failing run(s), from {} for {} ({state})",
            i.key,
            i.worst,
            i.failing_runs,
            format_time(i.first_seen),
            lasted(i.last_seen - i.first_seen)
        );
    }
    let groups = |t: &mut String, title: &str, g: &[super::Group]| {
        let _ = writeln!(t, "\n{title}:");
        if g.is_empty() {
            let _ = writeln!(t, "  none");
        }
        for x in g {
            let _ = writeln!(t, "  - {}× [{}] {}", x.count, x.about, x.message);
        }
    };
    groups(
        &mut t,
        "Most frequent errors of the bot's failed updates",
        &w.update_errors,
    );
    groups(
        &mut t,
        "Most frequent problems the watchdog found",
        &w.findings,
    );
    let _ = writeln!(t, "\nFigures against their thresholds:");
    for (name, v, note) in &figs {
        let _ = writeln!(t, "  - {name}: {v}");
        if !note.is_empty() {
            let _ = writeln!(t, "    {note}");
        }
    }
    let _ = writeln!(t, "\nLast recovery drill: {drill}");
    let _ = writeln!(
        t,
        "\nConfiguration backup (secrets are not in it; the variables that hold them are named at its top):\n"
    );
    t.push_str(&w.config);

    let e = |s: &str| html_escape(s);
    let mut h = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(
        h,
        "<h2>Weekly check of {}: {}</h2><p>{}</p><pre>{}</pre></body></html>",
        e(&d.bot),
        e(&verdict),
        e(&period),
        e(&t)
    );
    Message {
        subject,
        text: r(&t),
        html: r(&h),
        level: if look == 0 {
            AlertLevel::Ok
        } else {
            AlertLevel::Warning
        },
        resolved: false,
        incident: "weekly".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(min: f64, max: f64) -> Option<Series> {
        Some(Series {
            first: min,
            last: max,
            min,
            max,
            count: 3,
        })
    }

    #[test]
    fn a_threshold_always_or_never_crossed_gets_a_note() {
        let (_, _, note) = judge("p95", &series(6_000.0, 9_000.0), 5_000.0, true, " ms");
        assert!(note.starts_with("ALWAYS crossed"), "{note}");
        let (_, _, note) = judge("p95", &series(100.0, 900.0), 5_000.0, true, " ms");
        assert!(note.starts_with("never crossed"), "{note}");
        let (_, _, note) = judge("p95", &series(100.0, 9_000.0), 5_000.0, true, " ms");
        assert!(note.is_empty(), "{note}");
        let (_, _, note) = judge("handled", &series(80.0, 90.0), 95.0, false, " %");
        assert!(note.starts_with("ALWAYS crossed"), "{note}");
        let (_, v, note) = judge("handled", &None, 95.0, false, " %");
        assert_eq!((v.as_str(), note.as_str()), ("no figures this week", ""));
    }
}
