//! A TCP relay on loopback that delays every chunk by a fixed one-way time in each direction:
//! a server "on another host" a round trip of twice that away (the fleet benchmark's
//! PostgreSQL). This machine's kernel has no `tc netem`, so the delay is added in user space,
//! on threads of its own: tokio's timer ticks in whole milliseconds, too coarse for a 0.25 ms
//! one-way delay, while a thread's sleep is good to some tens of microseconds. Each chunk read
//! is written to the other side once its time is due, in order, so a request/response
//! protocol sees the added round trip and no reordering; bandwidth is not limited. The
//! listener and every connection stop when the relay is dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Chunks in flight per direction at most (the reader waits when the link is this full).
const IN_FLIGHT: usize = 1024;

/// The relay; its listener and connections end when it is dropped.
#[derive(Debug)]
pub struct DelayRelay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Chunks relayed from clients to the server: about one per request flight (a query, or
    /// a pipeline of them sent together), so per update it counts round trips.
    flights: Arc<AtomicU64>,
    /// Every socket of every connection, shut down at drop (which ends their threads).
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl DelayRelay {
    /// Listens on 127.0.0.1 (a free port) and relays each connection to `upstream`, every
    /// chunk `one_way` late in each direction.
    pub fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<DelayRelay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let flights = Arc::new(AtomicU64::new(0));
        let (st, so, fl) = (stop.clone(), sockets.clone(), flights.clone());
        std::thread::Builder::new()
            .name("delay-relay".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if st.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        connect(client, upstream, one_way, &so, &fl);
                    }
                }
            })?;
        Ok(DelayRelay {
            addr,
            stop,
            flights,
            sockets,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Chunks relayed from clients to the server so far (see the field).
    pub fn flights(&self) -> u64 {
        self.flights.load(Ordering::Relaxed)
    }
}

impl Drop for DelayRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Ok(sockets) = self.sockets.lock() {
            for s in sockets.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn connect(
    client: TcpStream,
    upstream: SocketAddr,
    one_way: Duration,
    sockets: &Arc<Mutex<Vec<TcpStream>>>,
    flights: &Arc<AtomicU64>,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let clones = (|| Some((client.try_clone().ok()?, server.try_clone().ok()?)))();
    let Some((client2, server2)) = clones else {
        return;
    };
    if let Ok(mut s) = sockets.lock() {
        s.extend(client.try_clone().ok());
        s.extend(server.try_clone().ok());
    }
    direction(client, server2, one_way, Some(flights.clone()));
    direction(server, client2, one_way, None);
}

/// One direction: a reader stamps each chunk with when it is due, a writer sends it then.
fn direction(
    mut from: TcpStream,
    mut to: TcpStream,
    one_way: Duration,
    count: Option<Arc<AtomicU64>>,
) {
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let _ = std::thread::Builder::new()
        .name("delay-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(c) = &count {
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                        if tx
                            .send((Instant::now() + one_way, buf[..n].to_vec()))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
    let _ = std::thread::Builder::new()
        .name("delay-write".into())
        .spawn(move || {
            while let Ok((due, chunk)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
}
