//! A TCP relay on loopback that delays every chunk by a fixed one-way time in each direction:
//! a server "on another host" a round trip of twice that away (the fleet benchmark's
//! PostgreSQL). This machine's kernel has no `tc netem`, so the delay is added in user space:
//! each chunk read is written to the other side once its time is due, in order, so a
//! request/response protocol sees the added round trip and no reordering; bandwidth is not
//! limited. Connections and the listener stop when the relay is dropped.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks in flight per direction at most (the reader waits when the link is this full).
const IN_FLIGHT: usize = 1024;

/// The relay; its listener and connections end when it is dropped.
#[derive(Debug)]
pub struct DelayRelay {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DelayRelay {
    /// Listens on 127.0.0.1 (a free port) and relays each connection to `upstream`, every
    /// chunk `one_way` late in each direction. Needs a tokio runtime.
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<DelayRelay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                conns.spawn(relay(client, upstream, one_way));
                // Reap the finished ones so the set stays small.
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(DelayRelay { addr, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DelayRelay {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, one_way: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(
        direction(cr, sw, one_way),
        direction(sr, cw, one_way)
    );
}

/// One direction: a reader stamps each chunk with when it is due, a writer sends it then.
async fn direction(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    one_way: Duration,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now() + one_way, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
