//! The network a code service runs on: a listener `axum::serve` takes and a
//! connector hyper-util's client takes, over turmoil's simulated network in
//! the simulator and over tokio's sockets outside it.
//!
//! One service's code runs in both places because it is written against
//! these two types, not against `tokio::net`: the simulator hands them over
//! in the service's [`Context`](super::Context), a real `main` builds them
//! with [`Net::Tokio`].
//!
//! Names resolve as in the fixture topology: `fraud-2:80` is that instance;
//! `fraud:80`, a service's name, is one of its instances, in turn (round
//! robin, so the same seed picks the same ones). Outside the simulator a name
//! is left to DNS.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use squall::service::{Connector, Listener, Net};
//! let listener = Listener::bind(Net::Tokio, "0.0.0.0:8080".parse().unwrap()).await?;
//! let client = Connector::new(Net::Tokio).client::<http_body_util::Full<bytes::Bytes>>();
//! # let _ = (listener, client); Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use indexmap::IndexMap;
use squall_fixture::{Sim, Tokio, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Pause after a failed `accept` (out of file descriptors, say) before the next.
pub const ACCEPT_RETRY_DELAY: std::time::Duration = squall_fixture::server::ACCEPT_RETRY_DELAY;

/// Which network: turmoil's (inside a simulated host only) or the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// turmoil's simulated network: only inside the simulator.
    Sim,
    /// tokio's sockets: a real process.
    Tokio,
}

/// A bound TCP listener on either network; `axum::serve` takes it.
pub struct Listener {
    inner: ListenerInner,
}

enum ListenerInner {
    Sim(turmoil::net::TcpListener),
    Tokio(tokio::net::TcpListener),
}

impl Listener {
    /// Binds `addr` on `net`.
    pub async fn bind(net: Net, addr: SocketAddr) -> io::Result<Self> {
        let inner = match net {
            Net::Sim => ListenerInner::Sim(Sim::bind(addr).await?),
            Net::Tokio => ListenerInner::Tokio(Tokio::bind(addr).await?),
        };
        Ok(Listener { inner })
    }

    /// The next connection.
    pub async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match &self.inner {
            ListenerInner::Sim(l) => {
                let (s, a) = l.accept().await?;
                Ok((Stream::Sim(s), a))
            }
            ListenerInner::Tokio(l) => {
                let (s, a) = l.accept().await?;
                // Small request/response messages: do not wait for Nagle.
                s.set_nodelay(true)?;
                Ok((Stream::Tokio(s), a))
            }
        }
    }

    /// The address bound, with the port it was given.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.inner {
            ListenerInner::Sim(l) => l.local_addr(),
            ListenerInner::Tokio(l) => l.local_addr(),
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Stream;
    type Addr = SocketAddr;

    /// Never fails: a failed accept is retried after [`ACCEPT_RETRY_DELAY`],
    /// as axum's own `TcpListener` does.
    async fn accept(&mut self) -> (Stream, SocketAddr) {
        loop {
            match Listener::accept(self).await {
                Ok(accepted) => return accepted,
                Err(error) => {
                    tracing::debug!(%error, "accept failed; retrying");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(self)
    }
}

/// A connected TCP stream on either network.
pub enum Stream {
    Sim(turmoil::net::TcpStream),
    Tokio(tokio::net::TcpStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tokio(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tokio(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_flush(cx),
            Stream::Tokio(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Sim(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tokio(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// Service names and their instances, for `fraud:80`: host names in the
/// simulator (`fraud-1`), authorities outside it (`10.0.0.7:8080`).
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Service -> its instances (`fraud-1`, `fraud-2`), in replica order.
    pub(crate) services: IndexMap<String, Vec<String>>,
    /// The next replica to hand out per service, in the order of `services`.
    next: Vec<AtomicUsize>,
}

impl Names {
    pub(crate) fn new(services: IndexMap<String, Vec<String>>) -> Self {
        let next = services.keys().map(|_| AtomicUsize::new(0)).collect();
        Names { services, next }
    }

    /// The host to dial for `host`: an instance of the service `host` names
    /// (in turn), or `host` itself.
    fn resolve(&self, host: &str) -> String {
        match self.services.get_full(host) {
            Some((i, _, instances)) if !instances.is_empty() => {
                let n = self.next[i].fetch_add(1, Ordering::Relaxed);
                instances[n % instances.len()].clone()
            }
            _ => host.to_owned(),
        }
    }

    /// The service `host` (an instance or a service name) belongs to. An
    /// instance may be listed with its port (`10.213.0.5:8080`, as a
    /// Docker instance's [`Context`](super::Context) lists them).
    pub(crate) fn service_of(&self, host: &str) -> Option<&str> {
        let is = |i: &String| i == host || i.rsplit_once(':').is_some_and(|(h, _)| h == host);
        self.services
            .iter()
            .find(|(service, instances)| *service == host || instances.iter().any(is))
            .map(|(service, _)| service.as_str())
    }
}

/// Dials `http://host:port` URIs on a network: a connector for hyper-util's
/// legacy client ([`Connector::client`] builds one set up for replay).
#[derive(Clone)]
pub struct Connector {
    net: Net,
    names: Arc<Names>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("net", &self.net).finish()
    }
}

impl Connector {
    /// A connector on `net` that knows no service names (DNS resolves them
    /// outside the simulator; inside, the [`Context`](super::Context)'s
    /// connector knows the topology's).
    pub fn new(net: Net) -> Self {
        Connector {
            net,
            names: Arc::default(),
        }
    }

    pub(crate) fn with_names(net: Net, names: Arc<Names>) -> Self {
        Connector { net, names }
    }

    /// The network it dials.
    pub fn net(&self) -> Net {
        self.net
    }

    /// A hyper-util client over this connector, built as replay needs: its
    /// pool's timers are tokio's (simulated time in the simulator, never the
    /// wall clock) and idle connections do not expire (hyper-util's expiry
    /// sweep walks a std `HashMap`, in a different order on every run). Build
    /// it inside the service (in the simulator, on its host's runtime).
    pub fn client<B>(&self) -> Client<Connector, B>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
    {
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(None::<std::time::Duration>)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(self.clone())
    }
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let port = uri.port_u16().unwrap_or(80);
        // A target with a port of its own (`ledger:8080`, given to a real
        // process's Context) replaces the URI's.
        let target = uri.host().map(|h| {
            let target = self.names.resolve(h);
            match target.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
                Some((host, Ok(port))) => (host.to_owned(), port),
                _ => (target, port),
            }
        });
        let net = self.net;
        Box::pin(async move {
            let (host, port) = target.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "request URI has no host")
            })?;
            let stream = match net {
                Net::Sim => Stream::Sim(Sim::connect(host, port).await?),
                Net::Tokio => Stream::Tokio(Tokio::connect(host, port).await?),
            };
            Ok(TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_name_resolves_to_its_instances_in_turn() {
        let names = Names::new(IndexMap::from([(
            "fraud".to_owned(),
            vec!["fraud-1".to_owned(), "fraud-2".to_owned()],
        )]));
        let picks: Vec<String> = (0..3).map(|_| names.resolve("fraud")).collect();
        assert_eq!(picks, ["fraud-1", "fraud-2", "fraud-1"]);
        assert_eq!(names.resolve("fraud-2"), "fraud-2");
        assert_eq!(names.resolve("elsewhere"), "elsewhere");
        assert_eq!(names.service_of("fraud-2"), Some("fraud"));
        assert_eq!(names.service_of("fraud"), Some("fraud"));
        assert_eq!(names.service_of("ledger-1"), None);
    }

    #[test]
    fn an_instance_listed_with_its_port_is_found_by_its_host() {
        let names = Names::new(IndexMap::from([(
            "ledger".to_owned(),
            vec!["10.213.0.5:8080".to_owned()],
        )]));
        assert_eq!(names.service_of("10.213.0.5"), Some("ledger"));
        assert_eq!(names.service_of("10.213.0.50"), None);
    }
}
