//! The chaos table, as text.

use std::fmt::Write;

use crate::Variant;
use crate::runner::RowResult;

/// The table of `results` (one line per row, then each failed row's reasons).
pub fn render(results: &[RowResult], v: Variant) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "chaos table ({} variant)",
        if v == Variant::Short { "short" } else { "full" }
    );
    let _ = writeln!(
        out,
        "| {:<58} | {:>6} | {:>6} | {:>8} | {:>4} | {:>5} | {:>5} | {:>8} | {:>8} | {:>9} | {:<6} |",
        "fault",
        "sent",
        "acked",
        "answered",
        "lost",
        "twice",
        "order",
        "CRITICAL",
        "RESOLVED",
        "healthy s",
        "result"
    );
    let _ = writeln!(
        out,
        "|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|",
        "-".repeat(60),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(10),
        "-".repeat(6),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(10),
        "-".repeat(10),
        "-".repeat(11),
        "-".repeat(8)
    );
    for r in results {
        let t = &r.tally;
        let healthy = t
            .healthy_after
            .map_or_else(|| "never".to_string(), |s| format!("{s:.1}"));
        let _ = writeln!(
            out,
            "| {:<58} | {:>6} | {:>6} | {:>8} | {:>4} | {:>5} | {:>5} | {:>8} | {:>8} | {:>9} | {:<6} |",
            format!("{} ({})", r.row.title, r.row.name),
            t.sent,
            t.acked,
            t.answered,
            t.lost,
            t.twice,
            t.order_violations,
            t.critical,
            t.resolved,
            healthy,
            if r.passed() { "PASS" } else { "FAIL" }
        );
    }
    for r in results.iter().filter(|r| !r.passed()) {
        let _ = writeln!(out, "\n{} FAILED:", r.row.name);
        for f in &r.failures {
            let _ = writeln!(out, "  - {f}");
        }
    }
    out
}
