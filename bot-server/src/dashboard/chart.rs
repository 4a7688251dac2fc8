//! Charts as inline-SVG path data, computed here (pure functions) so the server-rendered page
//! and the script that refreshes it draw the same thing.

use serde::Serialize;

use super::format::short;
use crate::recent::Sample;

/// Width of the SVG viewBox.
pub(crate) const W: f64 = 300.0;
/// Height of the SVG viewBox.
pub(crate) const H: f64 = 80.0;

/// One line of a chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Line {
    /// Legend text.
    pub name: &'static str,
    /// CSS class (colour).
    pub class: &'static str,
    /// SVG path data in a [`W`] × [`H`] box; gaps where the value is unknown.
    pub path: String,
    /// The newest value, formatted.
    pub last: String,
}

/// One chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Chart {
    /// Element id suffix.
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// The top of the y axis, formatted.
    pub y_max: String,
    /// How much time the x axis spans, formatted.
    pub span: String,
    /// The lines.
    pub lines: Vec<Line>,
}

/// The dashboard's three charts from the ring.
pub(crate) fn charts(samples: &[Sample], now: f64) -> Vec<Chart> {
    let from = samples.first().map_or(now, |s| s.at).max(now - 3600.0);
    let span = format!("last {}", super::format::ago((now - from).max(0.0) as i64));
    let lat_max = nice_max(
        samples
            .iter()
            .filter_map(|s| s.ack_p99_ms.or(s.ack_p50_ms))
            .fold(0.0, f64::max),
    );
    let pend_max = nice_max(
        samples
            .iter()
            .flat_map(|s| [s.telegram_pending.unwrap_or(0.0), s.inbox_depth])
            .fold(0.0, f64::max),
    );
    let line = |name, class, y_max, unit: &str, f: fn(&Sample) -> Option<f64>| Line {
        name,
        class,
        path: path(samples, from, now, y_max, f),
        last: samples
            .last()
            .and_then(f)
            .map_or("–".to_string(), |v| format!("{}{unit}", short(v))),
    };
    vec![
        Chart {
            id: "ack",
            title: "Ack latency (ms)",
            y_max: short(lat_max),
            span: span.clone(),
            lines: vec![
                line("p50", "c1", lat_max, " ms", |s| s.ack_p50_ms),
                line("p99", "c2", lat_max, " ms", |s| s.ack_p99_ms),
            ],
        },
        Chart {
            id: "success",
            title: "Handler success rate (%)",
            y_max: "100".into(),
            span: span.clone(),
            lines: vec![line("success", "c3", 100.0, " %", |s| s.success_percent)],
        },
        Chart {
            id: "pending",
            title: "Pending updates",
            y_max: short(pend_max),
            span,
            lines: vec![
                line("Telegram", "c2", pend_max, "", |s| s.telegram_pending),
                line("inbox", "c1", pend_max, "", |s| Some(s.inbox_depth)),
            ],
        },
    ]
}

/// SVG path data: x from `from`..`to`, y from 0..`y_max` (clamped); a missing value breaks the
/// line, and a lone point is drawn as a short dash so it shows.
pub(crate) fn path(
    samples: &[Sample],
    from: f64,
    to: f64,
    y_max: f64,
    f: fn(&Sample) -> Option<f64>,
) -> String {
    let width = (to - from).max(1e-9);
    let mut out = String::new();
    let mut pen_down = false;
    for s in samples {
        let Some(v) = f(s).filter(|v| v.is_finite()) else {
            pen_down = false;
            continue;
        };
        let x = ((s.at - from) / width * W).clamp(0.0, W);
        let y = H - (v / y_max.max(1e-9)).clamp(0.0, 1.0) * H;
        if !out.is_empty() {
            out.push(' ');
        }
        if pen_down {
            out.push_str(&format!("L{x:.1} {y:.1}"));
        } else {
            out.push_str(&format!("M{x:.1} {y:.1} h1.5"));
        }
        pen_down = true;
    }
    out
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten; at least 1).
pub(crate) fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at: f64, p50: Option<f64>) -> Sample {
        Sample {
            at,
            ack_p50_ms: p50,
            ..Default::default()
        }
    }

    #[test]
    fn a_gap_breaks_the_line_and_values_map_into_the_box() {
        let v = [
            s(0.0, Some(0.0)),
            s(50.0, Some(5.0)),
            s(60.0, None),
            s(100.0, Some(10.0)),
        ];
        let p = path(&v, 0.0, 100.0, 10.0, |s| s.ack_p50_ms);
        assert_eq!(p, "M0.0 80.0 h1.5 L150.0 40.0 M300.0 0.0 h1.5");
        assert_eq!(path(&[], 0.0, 1.0, 1.0, |s| s.ack_p50_ms), "");
        // Out-of-range values are clamped to the box.
        assert_eq!(
            path(&[s(5.0, Some(99.0))], 0.0, 1.0, 10.0, |s| s.ack_p50_ms),
            "M300.0 0.0 h1.5"
        );
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(1.3), 2.0);
        assert_eq!(nice_max(4.2), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
    }

    #[test]
    fn three_charts_with_their_latest_values() {
        let v = [s(0.0, Some(1.0)), s(10.0, Some(3.0))];
        let c = charts(&v, 10.0);
        assert_eq!(
            c.iter().map(|c| c.id).collect::<Vec<_>>(),
            ["ack", "success", "pending"]
        );
        assert_eq!(c[0].lines[0].last, "3 ms");
        assert_eq!(c[0].y_max, "5");
        assert_eq!(c[1].lines[0].last, "–");
        assert_eq!(c[0].span, "last 10 s");
    }
}
