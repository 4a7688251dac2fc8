//! The simulator's clocks: the injectable "Telegram now" (unix seconds, real
//! time plus an offset, used for update expiry and message dates) and the
//! scaling of Telegram's delays (back-off, read timeout, degraded-mode window).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Real unix time in whole seconds.
pub(crate) fn real_unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The simulator's "now": real unix time plus the offset set with
/// [`crate::Sim::set_now_offset`].
pub(crate) fn sim_unix_now(offset: i64) -> i64 {
    real_unix_now().saturating_add(offset)
}

/// A Telegram delay of `secs` seconds multiplied by the time scale.
pub(crate) fn scaled(secs: f64, scale: f64) -> Duration {
    let v = secs * scale;
    if v.is_finite() && v > 0.0 {
        Duration::from_secs_f64(v.min(1.0e9))
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_multiplies_and_never_goes_negative() {
        assert_eq!(scaled(60.0, 0.01), Duration::from_millis(600));
        assert_eq!(scaled(2.0, 1.0), Duration::from_secs(2));
        assert_eq!(scaled(-1.0, 1.0), Duration::ZERO);
    }
}
