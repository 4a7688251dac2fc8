//! Certificates made on the spot (rcgen) and a TLS listener serving one (tokio-rustls on
//! 127.0.0.1:0), for the checks that read a server's certificate: a test CA issuing leaves
//! with any validity and names, and self-signed ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A day in seconds.
pub const DAY: i64 = 86_400;

fn secs(unix: i64) -> Duration {
    Duration::from_secs(u64::try_from(unix).unwrap_or(0))
}

/// A certificate with its key: what a server presents.
#[derive(Debug)]
pub struct Leaf {
    /// The chain as served, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf as PEM (what `webhook.certificate` holds for a self-signed one).
    pub pem: String,
    key: Vec<u8>,
}

fn params(names: &[&str], not_before: i64, not_after: i64) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .unwrap_or_default();
    p.not_before = rcgen::date_time_ymd(1970, 1, 1) + secs(not_before);
    p.not_after = rcgen::date_time_ymd(1970, 1, 1) + secs(not_after);
    if let Some(n) = names.first() {
        p.distinguished_name.push(DnType::CommonName, *n);
    }
    p
}

/// A certificate authority for tests.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM: the root a test trusts.
    pub pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

impl TestCa {
    /// A new CA, valid from a year ago for ten years.
    pub fn new(now: i64) -> TestCa {
        let key = KeyPair::generate().expect("a key");
        let mut p = params(&[], now - 365 * DAY, now + 3650 * DAY);
        p.distinguished_name
            .push(DnType::CommonName, "telbot test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).expect("the CA certificate");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A leaf for `names`, valid between the two unix times, issued by this CA.
    pub fn issue(&self, names: &[&str], not_before: i64, not_after: i64) -> Leaf {
        let key = KeyPair::generate().expect("a key");
        let cert = params(names, not_before, not_after)
            .signed_by(&key, &self.issuer)
            .expect("the leaf certificate");
        Leaf {
            chain: vec![cert.der().clone()],
            pem: cert.pem(),
            key: key.serialize_der(),
        }
    }
}

/// A self-signed leaf for `names`, valid between the two unix times.
pub fn self_signed(names: &[&str], not_before: i64, not_after: i64) -> Leaf {
    let key = KeyPair::generate().expect("a key");
    let cert = params(names, not_before, not_after)
        .self_signed(&key)
        .expect("the certificate");
    Leaf {
        chain: vec![cert.der().clone()],
        pem: cert.pem(),
        key: key.serialize_der(),
    }
}

/// A TLS server on 127.0.0.1 presenting one certificate to every client; it handshakes and
/// hangs up. Stops when the test's runtime does.
#[derive(Debug)]
pub struct TlsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
}

impl TlsServer {
    /// Starts one serving `leaf`.
    pub async fn start(leaf: &Leaf) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(leaf.chain.clone(), key)
            .expect("the server's certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let count = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    if acceptor.accept(tcp).await.is_ok() {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        TlsServer { addr, handshakes }
    }

    /// Handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}
