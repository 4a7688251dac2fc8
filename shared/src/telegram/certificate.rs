//! A self-signed webhook certificate (`webhook.certificate`, a PEM file) and the one call
//! that carries it: `setWebhook` as `multipart/form-data`, the certificate as a file part —
//! Telegram ignores a certificate sent as a string, and a webhook set again without it
//! fails every delivery with "SSL error {… certificate verify failed}".
//!
//! The body is written here rather than with reqwest's `multipart` feature: it is one text
//! part per parameter and one file, built once as bytes so every retry sends the same body
//! (a reqwest `Form` is consumed by its request).

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::{SetWebhook, TelegramClient, TelegramError};

/// Telegram refuses certificates over 3 MiB ("certificate size is too big").
pub const MAX_CERTIFICATE_BYTES: usize = 3 << 20;

/// A PEM certificate to upload with setWebhook.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    file_name: String,
    pem: Bytes,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("file_name", &self.file_name)
            .field("bytes", &self.pem.len())
            .finish()
    }
}

/// Why a certificate file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The path as configured.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The contents are not a PEM certificate.
    #[error("is not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line)")]
    NotPem,
    /// The file is a private key: only the public certificate is ever uploaded.
    #[error(
        "holds a private key; give the public certificate (the .pem Telegram should trust), never the key"
    )]
    PrivateKey,
    /// Over Telegram's limit.
    #[error("is {0} bytes; Telegram accepts at most 3 MiB")]
    TooBig(usize),
}

impl Certificate {
    /// A certificate from PEM text, checked as Telegram would take it.
    pub fn from_pem(file_name: &str, pem: Vec<u8>) -> Result<Certificate, CertificateError> {
        if pem.len() > MAX_CERTIFICATE_BYTES {
            return Err(CertificateError::TooBig(pem.len()));
        }
        let text = String::from_utf8_lossy(&pem);
        if text.contains("PRIVATE KEY-----") {
            return Err(CertificateError::PrivateKey);
        }
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(CertificateError::NotPem);
        }
        Ok(Certificate {
            file_name: file_name.to_string(),
            pem: Bytes::from(pem),
        })
    }

    /// Reads and checks the PEM file at `path` (at start, before serving).
    pub fn load(path: &Path) -> Result<Certificate, CertificateError> {
        let pem = std::fs::read(path).map_err(|e| CertificateError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.chars().all(|c| c.is_ascii_graphic() && c != '"'))
            .unwrap_or("certificate.pem");
        Certificate::from_pem(name, pem)
    }

    /// The PEM bytes.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

/// The parameters of `params` as `multipart/form-data`: (content type, body).
pub(super) fn encode_multipart(
    params: &SetWebhook,
    cert: &Certificate,
) -> Result<(String, Bytes), TelegramError> {
    let fields = serde_json::to_value(params).map_err(|e| TelegramError::InvalidResponse {
        method: "setWebhook".into(),
        message: format!("cannot encode parameters: {e}"),
    })?;
    let boundary = format!("telbot-{:032x}", rand::random::<u128>());
    let mut body = Vec::with_capacity(cert.pem.len() + 1024);
    if let Value::Object(map) = fields {
        for (name, value) in map {
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}\r\n"
                )
                .as_bytes(),
            );
        }
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"{}\"\r\nContent-Type: application/x-pem-file\r\n\r\n",
            cert.file_name
        )
        .as_bytes(),
    );
    body.extend_from_slice(&cert.pem);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Ok((
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    ))
}

impl TelegramClient {
    /// `setWebhook` uploading `cert`, retried like every other call.
    pub(super) async fn set_webhook_multipart(
        &self,
        params: &SetWebhook,
        cert: &Certificate,
    ) -> Result<bool, TelegramError> {
        let (content_type, body) = encode_multipart(params, cert)?;
        let method = "setWebhook";
        let timeout = self.request_timeout();
        let mut attempt = 1u32;
        loop {
            let started = Instant::now();
            let outcome = match self
                .exchange(method, &content_type, body.clone(), timeout)
                .await
            {
                Ok(answer) => self.judge(method, &answer).map(|raw| raw.trim() == "true"),
                Err(e) => Err(e),
            };
            self.record(method, started.elapsed(), outcome.as_ref().map(|_| ()));
            let err = match outcome {
                Ok(set) => return Ok(set),
                Err(e) => e,
            };
            let Some(wait) = self.retry_wait(method, attempt, &err) else {
                return Err(err);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn only_a_public_pem_certificate_of_at_most_3_mib_is_taken() {
        assert!(Certificate::from_pem("c.pem", PEM.to_vec()).is_ok());
        assert_eq!(
            Certificate::from_pem("c.pem", b"hello".to_vec()),
            Err(CertificateError::NotPem)
        );
        let key = b"-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n";
        assert_eq!(
            Certificate::from_pem("c.pem", key.to_vec()),
            Err(CertificateError::PrivateKey)
        );
        let big = vec![b'A'; MAX_CERTIFICATE_BYTES + 1];
        assert_eq!(
            Certificate::from_pem("c.pem", big),
            Err(CertificateError::TooBig(MAX_CERTIFICATE_BYTES + 1))
        );
        let missing = Certificate::load(Path::new("/nonexistent/telbot.pem")).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/telbot.pem"),
            "{missing}"
        );
    }

    #[test]
    fn the_multipart_body_has_every_parameter_and_the_file() {
        let cert = Certificate::from_pem("self.pem", PEM.to_vec()).unwrap();
        let p = SetWebhook::new("https://x.example/webhook", None, 7, &["message".into()])
            .with_ip_address(Some("1.2.3.4".into()));
        let (ct, body) = encode_multipart(&p, &cert).unwrap();
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        for part in [
            "name=\"url\"\r\n\r\nhttps://x.example/webhook\r\n",
            "name=\"max_connections\"\r\n\r\n7\r\n",
            "name=\"allowed_updates\"\r\n\r\n[\"message\"]\r\n",
            "name=\"ip_address\"\r\n\r\n1.2.3.4\r\n",
            "name=\"drop_pending_updates\"\r\n\r\nfalse\r\n",
            "name=\"certificate\"; filename=\"self.pem\"",
        ] {
            assert!(text.contains(part), "{part:?} missing in {text}");
        }
        assert!(text.contains(std::str::from_utf8(PEM).unwrap()));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(!text.contains("secret_token"), "no secret was given");
    }
}
