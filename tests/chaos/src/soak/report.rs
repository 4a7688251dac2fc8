//! The soak's report: text for people, one JSON line for tools.

use std::fmt::Write;

use serde_json::json;

use super::{RSS_GROWTH_LIMIT_KIB, SoakResult, rss};
use crate::Variant;

impl SoakResult {
    /// The report, as text.
    pub fn report(&self) -> String {
        let (s, t) = (&self.spec, &self.tally);
        let mut o = String::new();
        let _ = writeln!(
            o,
            "soak: {} min, a fault every {:.1} s, load {} updates/s over {} chats (5 % duplicates), SQLite, {} settings",
            s.minutes,
            s.period.as_secs_f64(),
            s.variant.rate(),
            s.variant.chats(),
            if s.variant == Variant::Short {
                "short"
            } else {
                "full"
            }
        );
        let _ = writeln!(o, "faults (each {:.1} s):", s.fault_len().as_secs_f64());
        for f in &self.faults {
            let healed = f
                .healed_after
                .map_or("not before the next fault".into(), |h| format!("{h:.1} s"));
            let _ = writeln!(
                o,
                "  {:>6.1} s  {:<20} healed after {healed}",
                f.at_s,
                f.fault.name()
            );
        }
        let _ = writeln!(
            o,
            "bot-server RSS per minute (MiB): min / median / max (samples)"
        );
        for m in self.minutes() {
            let _ = writeln!(
                o,
                "  minute {:>2}: {:>6.1} / {:>6.1} / {:>6.1} ({})",
                m.number,
                rss::mib(m.min_kib),
                rss::mib(m.median_kib),
                rss::mib(m.max_kib),
                m.count
            );
        }
        match rss::growth_kib(&self.minutes()) {
            Some((a, b, g)) => {
                let _ = writeln!(
                    o,
                    "RSS: minute 2 median {:.1} MiB, last minute median {:.1} MiB, growth {:+.1} MiB (limit {} MiB), peak {:.1} MiB",
                    rss::mib(a),
                    rss::mib(b),
                    g as f64 / 1024.0,
                    RSS_GROWTH_LIMIT_KIB / 1024,
                    rss::mib(self.peak_kib())
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "RSS: peak {:.1} MiB (growth judged only with 3 minutes or more)",
                    rss::mib(self.peak_kib())
                );
            }
        }
        let healthy = t
            .healthy_after
            .map_or("not within the bound".into(), |h| format!("{h:.1} s"));
        let _ = writeln!(
            o,
            "updates: sent {}, acknowledged {}, answered {}, lost {}, answered twice {}, order violations {}; e-mails: {} CRITICAL / {} RESOLVED; healthy after the load's end: {healthy}",
            t.sent,
            t.acked,
            t.answered,
            t.lost,
            t.twice,
            t.order_violations,
            t.critical,
            t.resolved
        );
        if self.passed() {
            let _ = writeln!(o, "result: PASS");
        } else {
            let _ = writeln!(o, "result: FAIL: {}", self.failures.join("; "));
        }
        let _ = write!(o, "{}", self.json());
        o
    }

    /// The one-line JSON summary.
    pub fn json(&self) -> String {
        let (s, t) = (&self.spec, &self.tally);
        let growth = rss::growth_kib(&self.minutes());
        json!({
            "soak": {
                "minutes": s.minutes,
                "fault_every_s": s.period.as_secs_f64(),
                "faults": self.faults.len(),
                "rate": s.variant.rate(),
                "chats": s.variant.chats(),
            },
            "rss_mib": {
                "minute2_median": growth.map(|g| rss::mib(g.0)),
                "last_minute_median": growth.map(|g| rss::mib(g.1)),
                "growth": growth.map(|g| g.2 as f64 / 1024.0),
                "peak": rss::mib(self.peak_kib()),
                "per_minute_median": self.minutes().iter().map(|m| rss::mib(m.median_kib)).collect::<Vec<_>>(),
            },
            "sent": t.sent,
            "acked": t.acked,
            "answered": t.answered,
            "lost": t.lost,
            "answered_twice": t.twice,
            "order_violations": t.order_violations,
            "critical": t.critical,
            "resolved": t.resolved,
            "healthy_after_s": t.healthy_after,
            "passed": self.passed(),
        })
        .to_string()
    }
}
