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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Chunks in flight per direction at most (the reader waits when the link is this full).
const IN_FLIGHT: usize = 1024;

/// The relay; its listener and connections end when it is dropped.
#[derive(Debug)]
pub struct DelayRelay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
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
        let (st, so) = (stop.clone(), sockets.clone());
        std::thread::Builder::new()
            .name("delay-relay".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if st.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        connect(client, upstream, one_way, &so);
                    }
                }
            })?;
        Ok(DelayRelay {
            addr,
            stop,
            sockets,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
    direction(client, server2, one_way);
    direction(server, client2, one_way);
}

/// One direction: a reader stamps each chunk with when it is due, a writer sends it then.
fn direction(mut from: TcpStream, mut to: TcpStream, one_way: Duration) {
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let _ = std::thread::Builder::new()
        .name("delay-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send((Instant::now() + one_way, buf[..n].to_vec())).is_err() {
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
