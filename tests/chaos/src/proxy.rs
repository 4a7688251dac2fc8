//! A fault proxy: an HTTP/1.1 reverse proxy on 127.0.0.1 whose behaviour is switched at run
//! time. One sits between the daemons and the Bot API (`TELEGRAM_API_URL` points at it), one
//! between the simulated Telegram's webhook deliveries and the bot (`PUBLIC_URL` points at it).
//!
//! Faults ([`Fault`]): a Telegram-shaped error status, a 429 with `retry_after`, a delay before
//! the request is forwarded (dropped, never forwarded, when the client gives up first: hyper
//! drops the handler of a closed connection), a request that is never answered, a connection
//! closed without an answer, or nothing listening at all ([`Fault::Refuse`]: the listener is
//! closed and every open connection cut, so clients see `Connection refused`). A fault can be
//! limited to some Bot API methods (the last path segment).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ChaosError;

/// How the proxy treats a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward unchanged.
    Pass,
    /// Answer this status with a Telegram error body, without forwarding.
    Status(u16),
    /// Answer 429 with `Retry-After` and `parameters.retry_after`, without forwarding.
    TooMany {
        /// Seconds the client is told to wait.
        retry_after: u32,
    },
    /// Wait this long, then forward (nothing is forwarded if the client left meanwhile).
    Slow(Duration),
    /// Never answer (the client's own timeout ends it).
    Hang,
    /// Close the connection without an answer.
    Drop,
    /// Nothing listens on the port: connection refused.
    Refuse,
    /// Each request gets the next of these in turn (no `Refuse` inside).
    Cycle(Vec<Fault>),
}

#[derive(Debug, Clone)]
struct Plan {
    fault: Fault,
    /// Lower-case method names the fault applies to; `None`: every request.
    methods: Option<Vec<String>>,
}

struct Inner {
    upstream: String,
    port: u16,
    plan: watch::Sender<Plan>,
    turn: AtomicU64,
    client: reqwest::Client,
    stop: CancellationToken,
}

/// A running fault proxy; stops when the last clone is dropped or [`FaultProxy::stop`] runs.
#[derive(Clone)]
pub struct FaultProxy {
    inner: Arc<Inner>,
    _guard: Arc<StopOnDrop>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.inner.port)
            .field("upstream", &self.inner.upstream)
            .finish()
    }
}

struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[derive(Debug, thiserror::Error)]
#[error("connection closed by the fault proxy")]
struct Abort;

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Result<FaultProxy, ChaosError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| ChaosError::io("binding the fault proxy", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| ChaosError::io("fault proxy address", e))?
            .port();
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ChaosError::Setup(format!("proxy client: {e}")))?;
        let (plan, _) = watch::channel(Plan {
            fault: Fault::Pass,
            methods: None,
        });
        let stop = CancellationToken::new();
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_string(),
            port,
            plan,
            turn: AtomicU64::new(0),
            client,
            stop: stop.clone(),
        });
        tokio::spawn(accept_loop(inner.clone(), Some(listener)));
        Ok(FaultProxy {
            inner,
            _guard: Arc::new(StopOnDrop(stop)),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.inner.port)
    }

    /// Applies `fault` to every request from now on.
    pub fn set(&self, fault: Fault) {
        self.inner.plan.send_replace(Plan {
            fault,
            methods: None,
        });
    }

    /// Applies `fault` only to requests for these Bot API methods; others pass.
    pub fn set_for(&self, methods: &[&str], fault: Fault) {
        self.inner.plan.send_replace(Plan {
            fault,
            methods: Some(methods.iter().map(|m| m.to_ascii_lowercase()).collect()),
        });
    }

    /// Forward everything again.
    pub fn heal(&self) {
        self.set(Fault::Pass);
    }

    /// Stops listening and cuts every connection.
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }
}

fn refusing(inner: &Inner) -> bool {
    inner.plan.borrow().fault == Fault::Refuse
}

async fn accept_loop(inner: Arc<Inner>, mut first: Option<TcpListener>) {
    let mut changes = inner.plan.subscribe();
    loop {
        if inner.stop.is_cancelled() {
            return;
        }
        if refusing(&inner) {
            first = None;
            tokio::select! {
                () = inner.stop.cancelled() => return,
                r = changes.changed() => if r.is_err() { return },
            }
            continue;
        }
        let listener = match first.take() {
            Some(l) => l,
            None => match bind_again(&inner).await {
                Some(l) => l,
                None => return,
            },
        };
        let epoch = inner.stop.child_token();
        loop {
            tokio::select! {
                () = inner.stop.cancelled() => return,
                r = changes.changed() => {
                    if r.is_err() { return }
                    if refusing(&inner) { break }
                }
                a = listener.accept() => {
                    let Ok((sock, _)) = a else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let inner = inner.clone();
                    let epoch = epoch.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| handle(inner.clone(), req));
                        let conn = http1::Builder::new()
                            .serve_connection(TokioIo::new(sock), svc);
                        tokio::select! {
                            () = epoch.cancelled() => {}
                            _ = conn => {}
                        }
                    });
                }
            }
        }
        epoch.cancel();
        drop(listener);
    }
}

/// The port was ours a moment ago; binding it again may need a few tries.
async fn bind_again(inner: &Inner) -> Option<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], inner.port));
    for _ in 0..200 {
        if inner.stop.is_cancelled() {
            return None;
        }
        if let Ok(l) = TcpListener::bind(addr).await {
            return Some(l);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tracing::error!(port = inner.port, "fault proxy cannot listen again");
    None
}

fn fault_for(inner: &Inner, path: &str) -> Fault {
    let plan = inner.plan.borrow().clone();
    if let Some(methods) = &plan.methods {
        let method = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        if !methods.contains(&method) {
            return Fault::Pass;
        }
    }
    match plan.fault {
        Fault::Cycle(list) if !list.is_empty() => {
            let n = inner.turn.fetch_add(1, Ordering::Relaxed);
            let i = usize::try_from(n % list.len() as u64).unwrap_or(0);
            list[i].clone()
        }
        Fault::Cycle(_) => Fault::Pass,
        f => f,
    }
}

fn telegram_error(code: u16, retry_after: Option<u32>) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = match retry_after {
        Some(n) => serde_json::json!({
            "ok": false, "error_code": code,
            "description": format!("Too Many Requests: retry after {n}"),
            "parameters": { "retry_after": n },
        }),
        None => serde_json::json!({ "ok": false, "error_code": code, "description": reason }),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(n) = retry_after
        && let Ok(v) = http::HeaderValue::from_str(&n.to_string())
    {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Abort> {
    let fault = fault_for(&inner, req.uri().path());
    match fault {
        Fault::Status(code) => return Ok(telegram_error(code, None)),
        Fault::TooMany { retry_after } => return Ok(telegram_error(429, Some(retry_after))),
        Fault::Drop | Fault::Refuse => return Err(Abort),
        Fault::Hang => {
            tokio::select! {
                () = inner.stop.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
            return Err(Abort);
        }
        Fault::Slow(d) => tokio::time::sleep(d).await,
        Fault::Pass | Fault::Cycle(_) => {}
    }
    forward(&inner, req).await
}

async fn forward(inner: &Inner, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Abort> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Abort)?.to_bytes();
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut out = inner
        .client
        .request(parts.method, format!("{}{pq}", inner.upstream));
    for (name, value) in &parts.headers {
        if name != http::header::HOST
            && name != http::header::CONTENT_LENGTH
            && name != http::header::CONNECTION
        {
            out = out.header(name, value);
        }
    }
    let resp = out.body(body).send().await.map_err(|_| Abort)?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(|_| Abort)?;
    let mut answer = Response::new(Full::new(bytes));
    *answer.status_mut() = status;
    for name in [http::header::CONTENT_TYPE, http::header::RETRY_AFTER] {
        if let Some(v) = headers.get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    Ok(answer)
}

/// A TCP gate: forwards a fixed 127.0.0.1 port to a target while open; while closed nothing
/// listens there (connection refused). Used for "SMTP down".
#[derive(Debug)]
pub struct TcpGate {
    port: u16,
    open: watch::Sender<bool>,
    _stop: StopOnDropGate,
}

#[derive(Debug)]
struct StopOnDropGate(CancellationToken);

impl Drop for StopOnDropGate {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl TcpGate {
    /// A gate on a free port to `target`, open or closed from the start.
    pub async fn start(target: SocketAddr, open: bool) -> Result<TcpGate, ChaosError> {
        let port = telbot_testkit::free_port().map_err(|e| ChaosError::io("free port", e))?;
        let (tx, rx) = watch::channel(open);
        let stop = CancellationToken::new();
        tokio::spawn(gate_loop(port, target, rx, stop.clone()));
        Ok(TcpGate {
            port,
            open: tx,
            _stop: StopOnDropGate(stop),
        })
    }

    /// The gate's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Start or stop listening.
    pub fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

async fn gate_loop(
    port: u16,
    target: SocketAddr,
    mut open: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    loop {
        if !*open.borrow_and_update() {
            tokio::select! {
                () = stop.cancelled() => return,
                r = open.changed() => if r.is_err() { return },
            }
            continue;
        }
        let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(25)).await;
            continue;
        };
        let epoch = stop.child_token();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                r = open.changed() => {
                    if r.is_err() { return }
                    if !*open.borrow() { break }
                }
                a = listener.accept() => {
                    let Ok((mut sock, _)) = a else { continue };
                    let epoch = epoch.clone();
                    tokio::spawn(async move {
                        let Ok(mut up) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            () = epoch.cancelled() => {}
                            _ = tokio::io::copy_bidirectional(&mut sock, &mut up) => {}
                        }
                    });
                }
            }
        }
        epoch.cancel();
    }
}
