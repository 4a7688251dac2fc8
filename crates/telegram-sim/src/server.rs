//! The HTTP side: the accept loop (own hyper loop so a fault can close a
//! connection without answering), the router (`/_sim/…` control routes, Bot
//! API for everything else) and the Bot API entry point: path and token
//! checks, parameter parsing, call recording, method faults, dispatch.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::api::ApiError;
use crate::control;
use crate::faults::ApiFault;
use crate::methods;
use crate::params::Params;
use crate::records::Call;
use crate::state::{Shared, State as SimState};

/// Marker on a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

/// The error handed to hyper to make it close the connection.
#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// All routes of one sim.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/_sim", control::router())
        .fallback(bot_api)
        // Telegram takes uploads of up to 50 MB (axum's default limit is 2 MB).
        .layer(axum::extract::DefaultBodyLimit::max(50 << 20))
        .with_state(shared)
}

/// Accept connections until shutdown; each connection also stops at shutdown.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = router(shared.clone());
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "telegram-sim: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = shared.shutdown.cancelled() => break,
        };
        let app = app.clone();
        let stop = shared.shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                async move {
                    let resp = match app.oneshot(req.map(Body::new)).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    };
                    if resp.extensions().get::<DropConnection>().is_some() {
                        Err(DroppedOnPurpose)
                    } else {
                        Ok(resp)
                    }
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

/// Telegram's token shape check (`Unauthorized: invalid token specified`).
fn token_malformed(t: &str) -> bool {
    if t.is_empty() || t.starts_with('0') || t.len() > 80 || t.contains('/') {
        return true;
    }
    let Some((num, _)) = t.split_once(':') else {
        return true;
    };
    num.parse::<i64>()
        .map_or(true, |n| n <= 0 || n >= (1_i64 << 54))
}

/// Take one use of a pending fault for `method_lower`.
fn take_fault(st: &mut SimState, method_lower: &str) -> Option<ApiFault> {
    let (fault, left) = st.api_faults.get_mut(method_lower)?;
    let fault = *fault;
    *left = left.saturating_sub(1);
    if *left == 0 {
        st.api_faults.remove(method_lower);
    }
    Some(fault)
}

/// Record a call (params merged).
pub(crate) fn record_call(shared: &Shared, method: &str, p: &Params) {
    shared.lock().calls.push(Call {
        method: method.to_owned(),
        params: p.to_value(),
        at: SystemTime::now(),
    });
}

async fn bot_api(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let not_found = || ApiError::new(404, "Not Found").into_response();
    let Some(rest) = uri.path().strip_prefix("/bot") else {
        return not_found();
    };
    let Some((token, method)) = rest.split_once('/') else {
        return not_found();
    };
    if method.is_empty() {
        return not_found();
    }
    if token_malformed(token) {
        return ApiError::new(401, "Unauthorized: invalid token specified").into_response();
    }
    if token != shared.config.token {
        return ApiError::new(401, "Unauthorized").into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = match Params::parse(uri.query(), content_type, body).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let canonical = methods::canonical(method);
    let lower = method.to_ascii_lowercase();
    record_call(&shared, canonical.unwrap_or(method), &params);
    let fault = take_fault(&mut shared.lock(), &lower);
    match fault {
        Some(ApiFault::Status500) => {
            return ApiError::new(500, "Internal Server Error").into_response();
        }
        Some(ApiFault::TooManyRequests { retry_after }) => {
            return ApiError::too_many(retry_after).into_response();
        }
        Some(ApiFault::ProxyPage(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = crate::faults::proxy_page(status.as_u16());
            return (status, [(header::CONTENT_TYPE, "text/html")], page).into_response();
        }
        Some(ApiFault::Drop) => {
            let mut resp = Response::new(Body::empty());
            resp.extensions_mut().insert(DropConnection);
            return resp;
        }
        Some(ApiFault::Slow(d)) => {
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = shared.shutdown.cancelled() => return not_found(),
            }
        }
        None => {}
    }
    let Some(m) = canonical else {
        return ApiError::new(404, "Not Found: method not found").into_response();
    };
    match methods::dispatch(&shared, m, &params).await {
        Ok(ok) => ok.into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::token_malformed;

    #[test]
    fn token_shapes() {
        assert!(!token_malformed("123456:TEST-token"));
        for bad in ["", "nocolon", "0123:abc", "-5:abc", "abc:def", "1:a/b"] {
            assert!(token_malformed(bad), "{bad}");
        }
        assert!(token_malformed(&format!("1:{}", "a".repeat(80))));
    }
}
