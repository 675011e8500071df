//! The latency proxy: a transparent TCP proxy living in an instance's network
//! namespace, which delays the answers on links with a latency fault.
//!
//! The kernels squall must run on may lack netem (research §0), so latency is
//! added in user space. For every link that any latency fault of the run
//! touches, an nft `redirect` in the receiving instance's `pre` chain sends
//! new connections from the peer to [`PROXY_PORT`] ([`super::nft`]). The
//! redirect is installed when the container starts, before any traffic, so
//! pooled connections go through the proxy too and a fault takes effect (and
//! heals) on them at once: the delay is looked up for every chunk.
//!
//! A socket keeps the namespace it was created in, so a thread that has
//! `setns`-ed into `/proc/<pid>/ns/net` creates the listener and every
//! upstream socket (marked [`PROXY_MARK`]); tokio serves them on the normal
//! runtime. The proxy reads the real destination with
//! `getsockopt(SOL_IP, SO_ORIGINAL_DST)` and connects there. Data in each
//! direction is held `delay / 2 + uniform(0, jitter / 2)` from its arrival, in
//! order, so a request/response round trip gains `delay`, split as on the
//! simulator's symmetric links: a request reaches the instance late, which is
//! what makes a callee work for a caller that already gave up.
//!
//! A new connection on a delayed link is also held for half the delay (the
//! handshake's way) before the proxy connects onward, so its first request
//! reaches the instance a whole `delay` after the caller connected, as in the
//! simulator (measured there: +80 ms on a link, a pooled connection's request
//! arrives 40 ms after it was sent, a new connection's 81 ms). A caller that
//! gives up during the hold (a timeout, a hedge won elsewhere; its HTTP/1
//! connection is then closed) never reaches the instance.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

pub use super::nft::{PROXY_MARK, PROXY_PORT};

pub mod http;

pub use http::Errors;

/// `SO_ORIGINAL_DST` from `<linux/netfilter_ipv4.h>`.
const SO_ORIGINAL_DST: libc::c_int = 80;

/// Chunks in flight towards one caller before the reader waits.
const CHUNKS_IN_FLIGHT: usize = 1024;

/// Largest chunk read at once.
const CHUNK_BYTES: usize = 16 * 1024;

/// How long the onward connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a held new connection's caller may send before the proxy stops
/// reading it (the rest waits in the kernel).
const HELD_BYTES_MAX: usize = 64 * 1024;

/// (caller address, instance address) -> (delay, jitter).
pub type DelayTable = HashMap<(Ipv4Addr, Ipv4Addr), (Duration, Duration)>;

/// Added delay and jitter per (caller address, instance address), shared
/// with every proxy connection.
#[derive(Debug, Clone, Default)]
pub struct Delays(Arc<RwLock<DelayTable>>);

impl Delays {
    /// Replaces every delay.
    pub fn set(&self, all: DelayTable) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = all;
    }

    fn get(&self, from: Ipv4Addr, to: Ipv4Addr) -> (Duration, Duration) {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(from, to))
            .copied()
            .unwrap_or_default()
    }
}

type SocketRequest = oneshot::Sender<io::Result<Socket>>;

/// A proxy serving one namespace; stops (closing its connections) when dropped.
pub struct Proxy {
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy in the network namespace of process `pid`, listening on
    /// [`PROXY_PORT`]. Call from inside a tokio runtime.
    ///
    /// With `errors`, connections are read as HTTP/1.1 and a fraction of the
    /// requests is answered with the instance's injected error ([`http`]):
    /// how an image without squall's admin endpoint takes `error` faults.
    pub fn start(pid: i64, delays: Delays, errors: Option<Errors>) -> io::Result<Proxy> {
        let (listener, sockets) = namespace_thread(pid)?;
        let listener = TcpListener::from_std(listener)?;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                while connections.try_join_next().is_some() {}
                let sockets = sockets.clone();
                let delays = delays.clone();
                let errors = errors.clone();
                connections.spawn(async move {
                    let _ = serve(stream, peer, sockets, delays, errors).await;
                });
            }
        });
        Ok(Proxy { task })
    }
}

/// A thread inside the namespace of `pid`: binds the listener, then makes
/// upstream sockets on request until every requester is gone.
fn namespace_thread(
    pid: i64,
) -> io::Result<(std::net::TcpListener, mpsc::UnboundedSender<SocketRequest>)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<SocketRequest>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path = format!("/proc/{pid}/ns/net");
    std::thread::Builder::new()
        .name(format!("squall-netns-{pid}"))
        .spawn(move || {
            let entered = std::fs::File::open(&path).and_then(|ns| {
                // SAFETY: setns on a valid namespace fd; it changes only this thread.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                listen()
            });
            let ok = entered.is_ok();
            let _ = ready_tx.send(entered);
            if !ok {
                return;
            }
            while let Some(reply) = rx.blocking_recv() {
                let _ = reply.send(upstream_socket());
            }
        })?;
    let listener = ready_rx
        .recv()
        .map_err(|_| io::Error::other("the namespace thread died"))??;
    Ok((listener, tx))
}

fn listen() -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, PROXY_PORT)).into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn upstream_socket() -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_mark(PROXY_MARK)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The destination a redirected connection was meant for.
fn original_dst(stream: &TcpStream) -> io::Result<SocketAddrV4> {
    // SAFETY: a zeroed sockaddr_in is valid; getsockopt writes at most `len` bytes.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_IP,
            SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    ))
}

/// Holds a new connection until `until` (at once if that has passed),
/// keeping what the caller sends meanwhile; `None` if the caller closed it
/// first (it then never reaches the instance).
async fn hold(client: &mut TcpStream, until: Instant) -> Option<Vec<u8>> {
    let mut held = Vec::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    // Bounded by `until`: every turn either reads or ends.
    while Instant::now() < until {
        if held.len() >= HELD_BYTES_MAX {
            tokio::time::sleep_until(until).await;
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(until) => break,
            read = client.read(&mut buf) => match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => held.extend_from_slice(&buf[..n]),
            },
        }
    }
    Some(held)
}

/// Connects to `target` from a socket made in the namespace (marked, so the
/// redirect does not catch it again).
async fn connect_onward(
    sockets: &mpsc::UnboundedSender<SocketRequest>,
    target: SocketAddrV4,
) -> io::Result<TcpStream> {
    let (reply_tx, reply_rx) = oneshot::channel();
    sockets
        .send(reply_tx)
        .map_err(|_| io::Error::other("the namespace thread is gone"))?;
    let socket = reply_rx.await.map_err(io::Error::other)??;
    // SAFETY: the fd comes from a socket2 Socket we own.
    let std_stream = unsafe {
        std::net::TcpStream::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(OwnedFd::from(socket)))
    };
    let upstream = tokio::net::TcpSocket::from_std_stream(std_stream);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, upstream.connect(target.into()))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn serve(
    mut client: TcpStream,
    peer: SocketAddr,
    sockets: mpsc::UnboundedSender<SocketRequest>,
    delays: Delays,
    errors: Option<Errors>,
) -> io::Result<()> {
    let target = original_dst(&client)?;
    let from = match peer.ip() {
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let to = *target.ip();
    let seed = u64::from(u32::from(from)) << 16 | u64::from(peer.port());
    let (delay, jitter) = delays.get(from, to);
    let handshake = delay / 2 + Jitter::new(!seed).upto(jitter / 2);
    let Some(held) = hold(&mut client, Instant::now() + handshake).await else {
        return Ok(());
    };
    client.set_nodelay(true)?;
    if let Some(errors) = errors {
        let connect: http::Connect = Arc::new(move || {
            let sockets = sockets.clone();
            Box::pin(async move { connect_onward(&sockets, target).await })
        });
        return http::serve(client, held, connect, (from, to), delays, errors, seed).await;
    }
    let upstream = connect_onward(&sockets, target).await?;
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    // Each direction gains half the delay and jitter, as on the simulator's symmetric links:
    // a request sent late still arrives late, after a caller that gave up on it. What the
    // caller sent during the handshake goes first.
    let link = (from, to);
    let requests = delayed(
        held,
        client_read,
        upstream_write,
        delays.clone(),
        link,
        seed,
    );
    let answers = delayed(
        Vec::new(),
        upstream_read,
        client_write,
        delays,
        link,
        seed ^ 1,
    );
    tokio::join!(requests, answers);
    Ok(())
}

/// Copies `first`, then `read`, to `write`, holding each chunk half the link's delay plus up
/// to half its jitter from its arrival, in order. The end of the stream is passed on (a
/// shutdown) after the same hold, behind the data: bytes sent before a close still arrive,
/// as on a network.
async fn delayed(
    first: Vec<u8>,
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    delays: Delays,
    (from, to): (Ipv4Addr, Ipv4Addr),
    seed: u64,
) {
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let reader = async move {
        let mut rng = Jitter::new(seed);
        let mut last = Instant::now();
        // What the caller sent during the handshake is the first chunk.
        let mut first = Some(first).filter(|f| !f.is_empty());
        loop {
            let buf = match first.take() {
                Some(held) => held,
                None => {
                    let mut buf = vec![0u8; CHUNK_BYTES];
                    let n = match read.read(&mut buf).await {
                        Ok(0) | Err(_) => 0,
                        Ok(n) => n,
                    };
                    buf.truncate(n);
                    buf
                }
            };
            // An empty chunk is the end of the stream, passed on after the data.
            let end = buf.is_empty();
            let (delay, jitter) = delays.get(from, to);
            let release = (Instant::now() + delay / 2 + rng.upto(jitter / 2)).max(last);
            last = release;
            if chunks_tx.send((release, buf)).await.is_err() || end {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((release, chunk)) = chunks_rx.recv().await {
            if release > Instant::now() {
                tokio::time::sleep_until(release).await;
            }
            if chunk.is_empty() {
                break;
            }
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// A small xorshift for jitter: not reproducible anyway (real time).
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    fn upto(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = max.as_nanos() as u64;
        Duration::from_nanos(self.0 % (nanos + 1))
    }

    /// A draw in `0..1_000_000`, against a rate per million.
    fn below_million(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as u32
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A connected pair on loopback: (the caller's end, the proxy's end).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let caller = TcpStream::connect(listener.local_addr().unwrap());
        let (caller, accepted) = tokio::join!(caller, listener.accept());
        (caller.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn a_held_connection_keeps_what_its_caller_sent_until_the_delay() {
        let (mut caller, mut accepted) = pair().await;
        caller.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let start = Instant::now();
        let held = hold(&mut accepted, start + Duration::from_millis(50)).await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(held.as_deref(), Some(&b"GET / HTTP/1.1\r\n\r\n"[..]));
        // No delay: no wait, nothing read.
        assert_eq!(hold(&mut accepted, Instant::now()).await, Some(Vec::new()));
    }

    #[tokio::test]
    async fn a_caller_that_closes_while_held_never_gets_through() {
        let (mut caller, mut accepted) = pair().await;
        caller.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        drop(caller);
        let start = Instant::now();
        let held = hold(&mut accepted, start + Duration::from_secs(5)).await;
        assert_eq!(held, None);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "noticed the close at once"
        );
    }
}
