//! Small checks the `[alerts]` settings share: keeping a value or its error, and a secret that
//! must be an http(s) URL. Used by `config` and by the channels' own settings (`notify::*`),
//! which therefore need not import `config`.

use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret};
use url::Url;

/// `r`'s value, or `None` with its error kept in `errs`.
pub(crate) fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

/// A secret that must be an http(s) URL; the error never prints it.
pub(crate) fn checked_url(
    v: Option<SecretString>,
    k: &str,
) -> Result<Option<SecretString>, ConfigError> {
    if let Some(s) = &v {
        let ok = Url::parse(s.expose_secret().trim())
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .unwrap_or(false);
        if !ok {
            return Err(ConfigError::invalid(
                &format!("alerts.{k}"),
                "must be an http:// or https:// URL (value not shown)",
            ));
        }
    }
    Ok(v)
}

/// [`checked_url`] of an optional secret from a section (blank is unset); a bad one goes to
/// `errs` and reads as unset.
pub(crate) fn optional_url(
    v: &Option<SecretString>,
    k: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<SecretString> {
    keep(errs, checked_url(non_empty_secret(v.clone()), k)).flatten()
}
