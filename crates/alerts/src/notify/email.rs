//! E-mail over SMTP with lettre (async, rustls): plain for loopback, STARTTLS
//! (`smtp://…?tls=required`) or implicit TLS (`smtps://`), credentials from the URL, an
//! optional extra trusted certificate for self-signed relays. One e-mail goes to all recipients.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::ConfigError;

use super::{Message, Notifier};
use crate::error::AlertError;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS (`smtp://`), only sensible on loopback.
    Plain,
    /// STARTTLS, refusing to continue without it (`?tls=required`).
    StartTls,
    /// STARTTLS when offered (`?tls=opportunistic`).
    Opportunistic,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// Validated SMTP settings from `alerts.smtp_url` and friends.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Relay host name (also the TLS server name).
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// TLS mode.
    pub security: SmtpSecurity,
    /// User name and password from the URL, percent-decoded.
    pub credentials: Option<(String, SecretString)>,
    /// Extra certificate to trust (PEM), read at load time.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (tests only).
    pub accept_invalid_certs: bool,
    /// Bound on every SMTP command and on the whole send.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

const KEY: &str = "alerts.smtp_url";

/// The connection security and default port of a scheme and `?tls=`.
fn security(scheme: &str, tls: Option<&str>) -> Result<(SmtpSecurity, u16), ConfigError> {
    Ok(match (scheme, tls) {
        ("smtp", None | Some("none")) => (SmtpSecurity::Plain, 25),
        ("smtp", Some("required")) => (SmtpSecurity::StartTls, 587),
        ("smtp", Some("opportunistic")) => (SmtpSecurity::Opportunistic, 587),
        ("smtps", _) => (SmtpSecurity::Implicit, 465),
        (scheme, tls) => {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "must be smtp://, smtp://…?tls=required|opportunistic or smtps:// (got scheme {scheme:?}, tls {tls:?})"
                ),
            ));
        }
    })
}

/// `alerts.smtp_ca_file`, read and checked to be a PEM certificate.
fn read_ca(p: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    let pem = std::fs::read(p).map_err(|e| {
        ConfigError::invalid(
            "alerts.smtp_ca_file",
            format!("cannot read {}: {e}", p.display()),
        )
    })?;
    Certificate::from_pem(&pem).map_err(|e| {
        ConfigError::invalid(
            "alerts.smtp_ca_file",
            format!("{} is not a PEM certificate: {e}", p.display()),
        )
    })?;
    Ok(pem)
}

impl SmtpSettings {
    /// Parses `smtp[s]://[user:pass@]host[:port][?tls=required|opportunistic]`. Errors never
    /// contain the URL (it may hold a password).
    pub fn parse(
        url: &SecretString,
        ca_file: Option<PathBuf>,
        accept_invalid_certs: bool,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let u = url::Url::parse(url.expose_secret().trim()).map_err(|e| {
            ConfigError::invalid(KEY, format!("is not a URL ({e}); value not shown"))
        })?;
        let tls = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, default_port) = security(u.scheme(), tls.as_deref())?;
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError::invalid(KEY, "has no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = match (u.username(), u.password()) {
            ("", None) => None,
            (user, pass) => Some((
                decode(user),
                SecretString::from(decode(pass.unwrap_or_default())),
            )),
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if credentials.is_some()
            && matches!(security, SmtpSecurity::Plain | SmtpSecurity::Opportunistic)
            && !loopback
        {
            // AUTH over plain SMTP would send the password in clear across the network.
            return Err(ConfigError::invalid(
                KEY,
                "has a user name or password but no TLS to a host that is not loopback: \
                 use smtps://… (port 465) or smtp://…?tls=required (STARTTLS)",
            ));
        }
        let ca_pem = ca_file.map(|p| read_ca(&p)).transpose()?;
        Ok(SmtpSettings {
            host,
            port: u.port().unwrap_or(default_port),
            security,
            credentials,
            ca_pem,
            accept_invalid_certs,
            timeout,
        })
    }

    /// The password, for the redactor.
    pub(crate) fn secrets(&self) -> Vec<SecretString> {
        self.credentials.iter().map(|(_, p)| p.clone()).collect()
    }
}

/// Checks one address (`a@b.c` or `Name <a@b.c>`); the error is for a person.
pub(crate) fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("{s:?} is not an e-mail address ({e})"))
}

/// The SMTP channel.
pub(crate) struct EmailNotifier {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    timeout: Duration,
}

impl EmailNotifier {
    /// Builds the transport (no connection is made yet).
    pub(crate) fn new(s: &SmtpSettings, from: &str, to: &[String]) -> Result<Self, AlertError> {
        let from = parse_mailbox(from).map_err(AlertError::Setup)?;
        let to = to
            .iter()
            .map(|t| parse_mailbox(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AlertError::Setup)?;
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .timeout(Some(s.timeout));
        if s.security != SmtpSecurity::Plain {
            let mut p = TlsParameters::builder(s.host.clone())
                .dangerous_accept_invalid_certs(s.accept_invalid_certs);
            if let Some(pem) = &s.ca_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| AlertError::Setup(format!("smtp_ca_file: {e}")))?;
                p = p.add_root_certificate(cert);
            }
            let p = p
                .build_rustls()
                .map_err(|e| AlertError::Setup(format!("smtp tls: {e}")))?;
            b = b.tls(match s.security {
                SmtpSecurity::StartTls => Tls::Required(p),
                SmtpSecurity::Opportunistic => Tls::Opportunistic(p),
                _ => Tls::Wrapper(p),
            });
        }
        if let Some((user, pass)) = &s.credentials {
            b = b.credentials(Credentials::new(
                user.clone(),
                pass.expose_secret().to_string(),
            ));
        }
        Ok(EmailNotifier {
            mailer: b.build(),
            from,
            to,
            timeout: s.timeout,
        })
    }
}

/// Builds the e-mail: one message, every recipient in `To`, a plain and an HTML part.
pub(crate) fn build_email(
    from: &Mailbox,
    to: &[Mailbox],
    msg: &Message,
) -> Result<lettre::Message, AlertError> {
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .subject(msg.subject.clone());
    for t in to {
        b = b.to(t.clone());
    }
    b.multipart(MultiPart::alternative_plain_html(
        msg.text.clone(),
        msg.html.clone(),
    ))
    .map_err(|e| AlertError::send("email", format!("cannot build the message: {e}")))
}

impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        "email"
    }

    fn takes_warnings(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let email = build_email(&self.from, &self.to, msg)?;
            // The transport's own timeout bounds each command; this bounds the whole exchange.
            match tokio::time::timeout(self.timeout * 2, self.mailer.send(email)).await {
                Ok(Ok(r)) if r.is_positive() => Ok(()),
                Ok(Ok(r)) => Err(AlertError::send(
                    "email",
                    format!("server answered {}", r.code()),
                )),
                Ok(Err(e)) => Err(AlertError::send("email", e.to_string())),
                Err(_) => Err(AlertError::send("email", "timed out")),
            }
        })
    }
}
