//! Who holds a lease or lock row: a name of role, host and pid.

/// An owner name for `role` (`watchdog`, `bot-server`): role, host and pid.
pub fn owner_name(role: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{role} on {host} (pid {})", std::process::id())
}
