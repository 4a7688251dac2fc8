//! How bad something is: the one level both the watchdog's findings and the alerts pipeline
//! speak (`check --json`, the exit code, the alert tables). Ordered: `Ok < Warning < Critical`.

use serde::{Deserialize, Serialize};

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing wrong: counts towards resolving an incident.
    #[default]
    #[serde(alias = "normal")]
    Ok,
    /// Wrong but not stopping users (or repaired in this run): logged and shown on the
    /// dashboard; sent to the chat channels only with `alerts.warnings_to_chat`; never e-mailed
    /// or paged.
    Warning,
    /// Users are not being answered, or a repair failed or was not allowed: every channel,
    /// e-mail included.
    Critical,
}

impl Level {
    /// `ok`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// The CLI exit code for this level: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        }
    }

    /// The spelling in the alert tables (`alert_incidents`, `alert_outbox`): `normal`,
    /// `warning`, `critical`. Kept as earlier versions wrote it, so a watchdog of the previous
    /// release on the same store (a rolling deploy) reads these rows right.
    pub fn stored(self) -> &'static str {
        match self {
            Level::Ok => "normal",
            other => other.as_str(),
        }
    }

    /// A stored spelling back (`normal` or `ok`); unknown text reads as critical (fail loud).
    pub fn from_stored(s: &str) -> Level {
        match s {
            "normal" | "ok" => Level::Ok,
            "warning" => Level::Warning,
            _ => Level::Critical,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_survives_the_store_and_json_and_old_rows_still_read() {
        for l in [Level::Ok, Level::Warning, Level::Critical] {
            assert_eq!(Level::from_stored(l.stored()), l);
            let json = serde_json::to_string(&l).map_err(|e| e.to_string());
            assert_eq!(json, Ok(format!("\"{}\"", l.as_str())));
        }
        assert_eq!(Level::from_stored("normal"), Level::Ok);
        assert_eq!(Level::from_stored("garbled"), Level::Critical);
        let old: Result<Level, _> = serde_json::from_str("\"normal\"");
        assert_eq!(old.map_err(|e| e.to_string()), Ok(Level::Ok));
        assert!(Level::Ok < Level::Warning && Level::Warning < Level::Critical);
    }
}
