//! Reading the certificate a TLS server presents, as Gatus and Uptime Kuma do: a TLS
//! connection to `host:port` (or to `watchdog.tls.connect`) with SNI = the host, which
//! captures the chain whatever it is — an expired or foreign certificate is exactly what the
//! check is for, so verification must not abort the read. Trust and name are then judged
//! offline, each on its own ([`assess`]). Nothing is ever sent over the connection.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};

use super::der;

/// Why no certificate could be read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TCP connection failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Where.
        addr: String,
        /// The OS error.
        reason: String,
    },
    /// The TLS handshake failed (before any certificate came).
    #[error("the TLS handshake with {addr} failed: {reason}")]
    Handshake {
        /// Where.
        addr: String,
        /// rustls' error.
        reason: String,
    },
    /// No answer in time.
    #[error("{addr} did not complete a TLS handshake within {limit:?}")]
    Timeout {
        /// Where.
        addr: String,
        /// The limit.
        limit: Duration,
    },
    /// The server sent no certificate, or one that cannot be parsed.
    #[error("{0}")]
    Certificate(String),
}

/// Accepts any certificate (the capture is judged afterwards) but still checks the handshake
/// signatures, so what was captured is what the server holds the key of.
#[derive(Debug)]
struct Capture(Arc<CryptoProvider>);

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain `addr` presents to a client asking for `host` (leaf first), within `limit`.
pub async fn read_chain(
    addr: &str,
    host: &str,
    limit: Duration,
) -> Result<Vec<CertificateDer<'static>>, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let handshake = |reason: String| ProbeError::Handshake {
        addr: addr.to_string(),
        reason,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| handshake(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Capture(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| ProbeError::Certificate(format!("{host:?} is not a host name")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let read = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| ProbeError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| handshake(e.to_string()))?;
        let chain: Vec<CertificateDer<'static>> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        if chain.is_empty() {
            return Err(ProbeError::Certificate(format!(
                "{addr} presented no certificate"
            )));
        }
        Ok(chain)
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| ProbeError::Timeout {
            addr: addr.to_string(),
            limit,
        })?
}

/// What the leaf certificate says and how it verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    /// `notBefore`, unix seconds.
    pub not_before: i64,
    /// `notAfter`, unix seconds.
    pub not_after: i64,
    /// The DNS names it is issued for (subjectAltName).
    pub names: Vec<String>,
    /// It is valid for the host (name and SAN rules as webpki applies them).
    pub host_ok: bool,
    /// It chains to a public root (webpki-roots), `watchdog.tls.ca_file` or
    /// `webhook.certificate` (as Telegram checks it), dates aside.
    pub trusted: bool,
    /// It is exactly the certificate in `webhook.certificate`.
    pub pinned: bool,
    /// Issuer = subject.
    pub self_signed: bool,
    /// Why it does not chain to a trusted root.
    pub trust_error: Option<String>,
}

/// Judges a captured chain for `host`. `anchors_der`: extra trusted certificates
/// (`watchdog.tls.ca_file`, `webhook.certificate`); `pinned_der`: the `webhook.certificate`
/// ones, accepted as the leaf itself. Dates are judged by the caller, so trust is checked at
/// a moment inside the certificate's validity.
pub fn assess(
    chain: &[CertificateDer<'_>],
    host: &str,
    anchors_der: &[CertificateDer<'static>],
    pinned_der: &[CertificateDer<'static>],
    now: i64,
) -> Result<CertFacts, ProbeError> {
    let bad = |what: String| ProbeError::Certificate(what);
    let leaf = chain.first().ok_or_else(|| bad("no certificate".into()))?;
    let v = der::validity(leaf).ok_or_else(|| bad("its validity cannot be read".into()))?;
    let ee = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| bad(format!("it cannot be parsed: {e}")))?;
    let names = ee.valid_dns_names().map(str::to_string).collect();
    let host_ok = ServerName::try_from(host)
        .ok()
        .is_some_and(|n| ee.verify_is_valid_for_subject_name(&n).is_ok());
    let mut anchors = webpki_roots::TLS_SERVER_ROOTS.to_vec();
    anchors.extend(
        anchors_der
            .iter()
            .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
            .map(|a| a.to_owned()),
    );
    let at = now.clamp(v.not_before, (v.not_after - 1).max(v.not_before));
    let at = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap_or(0)));
    let pinned = pinned_der.iter().any(|p| p.as_ref() == leaf.as_ref());
    let verified = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        chain.get(1..).unwrap_or_default(),
        at,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    let trust_error = match (&verified, pinned) {
        (Ok(_), _) | (_, true) => None,
        (Err(webpki::Error::UnknownIssuer), _) => {
            Some("no trusted authority issued it (or the server does not send the intermediate certificates)".into())
        }
        (Err(e), _) => Some(format!("it does not verify: {e:?}")),
    };
    Ok(CertFacts {
        not_before: v.not_before,
        not_after: v.not_after,
        names,
        host_ok,
        trusted: trust_error.is_none(),
        pinned,
        self_signed: ee.issuer() == ee.subject(),
        trust_error,
    })
}
