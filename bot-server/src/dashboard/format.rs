//! The dashboard's text formats, in one place: figures (`short`), sizes (`mib`), ages
//! (`ago`) and times (`when`), used by the snapshot, the status light, the charts and the
//! watchdog tables alike.

/// A figure with at most three significant digits, no trailing zeros.
pub(crate) fn short(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Bytes as MiB.
pub(crate) fn mib(b: u64) -> String {
    format!("{} MiB", short(b as f64 / (1024.0 * 1024.0)))
}

/// A duration in words: `42 s`, `5 min`, `3 h`, `2 d`.
pub(crate) fn ago(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d", s / 86400),
    }
}

/// A unix time as UTC text with its age: `2025-01-01 10:00:00Z (5 min ago)`.
pub(crate) fn when(at: i64, now: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ");
    if at == now {
        text
    } else {
        format!("{text} ({} ago)", ago(now - at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_sizes_and_ages_read_well() {
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(12.34), "12.3");
        assert_eq!(short(1234.5), "1234");
        assert_eq!(short(2.0), "2");
        assert_eq!(short(f64::NAN), "–");
        assert_eq!(mib(3 * 1024 * 1024), "3 MiB");
        assert_eq!(ago(42), "42 s");
        assert_eq!(ago(300), "5 min");
        assert_eq!(ago(3 * 3600 + 60), "3 h 1 min");
        assert_eq!(ago(2 * 86400), "2 d");
        assert_eq!(when(0, 0), "1970-01-01 00:00:00Z");
        assert_eq!(when(0, 60), "1970-01-01 00:00:00Z (1 min ago)");
    }
}
