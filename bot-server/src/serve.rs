//! The HTTP server loop: hyper's HTTP/1.1 with a header read timeout (slow clients cannot hold
//! a connection open), connection budgets that keep room for `/health` and Telegram under a
//! flood ([`guard`]), and a graceful drain on shutdown.

pub(crate) mod guard;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub(crate) use guard::{ConnHandle, ConnLimits, Registry};

/// Serves `app` until `stop`, then lets open requests finish for up to `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    limits: ConnLimits,
    stop: CancellationToken,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let registry = Registry::new(limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handle = match registry.admit(peer.ip().to_canonical()) {
            Ok(h) => h,
            Err(why) => {
                // Dropping the stream closes it at once: nothing waits in the accept queue.
                metrics::counter!("telbot_connections_refused_total").increment(1);
                tracing::debug!(
                    ?why,
                    "connection refused: every slot has a request in flight"
                );
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = {
            let app = app.clone();
            let handle = handle.clone();
            tower::service_fn(move |mut req: http::Request<Incoming>| {
                let app = app.clone();
                let busy = handle.busy();
                req.extensions_mut().insert(handle.clone());
                async move {
                    let resp = app.oneshot(req.map(Body::new)).await;
                    drop(busy);
                    resp
                }
            })
        };
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        let killed = handle.killed();
        tokio::spawn(async move {
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                _ = killed.cancelled() => tracing::debug!("idle untrusted connection closed to make room"),
            }
            handle.release();
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
}
