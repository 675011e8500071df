//! HTTP-level `error` faults for any image: the latency proxy reads the
//! requests of a plain HTTP/1.1 link and answers a fraction of them itself,
//! with the fault's status, without forwarding them.
//!
//! squall's fixture takes an error through its admin endpoint; an image of
//! your own has none, so its proxy parses each request head (and its body,
//! by `Content-Length`), draws against the instance's error rate, and either
//! answers `status` at once (the instance never sees that request) or
//! forwards it and relays the answer (framed by `Content-Length`, chunked,
//! or until the instance closes). Half the link's latency fault, if any, is
//! added each way per message, as the byte-level proxy does per chunk.
//!
//! What it cannot parse (TLS, HTTP/2, a chunked request body, a head over
//! [`HEAD_BYTES_MAX`]) is passed on untouched for the rest of the connection,
//! with one warning: errors are then not injected on it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{Delays, Jitter};

/// Largest request or response head the proxy parses.
pub const HEAD_BYTES_MAX: usize = 64 * 1024;

/// Largest response body the proxy holds before relaying it.
const BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Headers parsed per message.
const HEADERS_MAX: usize = 128;

/// How long a read from either side may take before the connection is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Injected errors per instance address: (status, rate per million).
#[derive(Debug, Clone, Default)]
pub struct Errors(Arc<RwLock<HashMap<Ipv4Addr, (u16, u32)>>>);

impl Errors {
    /// Replaces every injected error.
    pub fn set(&self, all: HashMap<Ipv4Addr, (u16, u32)>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = all;
    }

    fn get(&self, to: Ipv4Addr) -> Option<(u16, u32)> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&to)
            .copied()
    }
}

/// Opens a connection to the instance (from inside its namespace, marked).
pub type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>> + Send + Sync>;

/// One parsed message head: its length, and how its body is framed.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    len: usize,
    body: Body,
    /// `Connection: close` (or HTTP/1.0 without keep-alive).
    close: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Body {
    Length(usize),
    Chunked,
    /// Until the sender closes (a response without framing).
    UntilClose,
}

/// What the proxy makes of the bytes in hand.
enum Parsed {
    Head(Head),
    Partial,
    /// Not HTTP/1.x as the proxy reads it: pass the rest on untouched.
    Foreign(String),
}

fn framing(headers: &[httparse::Header<'_>], version: u8) -> (Option<Body>, bool) {
    let mut body = None;
    let mut close = version == 0;
    for h in headers {
        let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
        if h.name.eq_ignore_ascii_case("content-length") {
            body = value.trim().parse().ok().map(Body::Length);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
            body = Some(Body::Chunked);
        } else if h.name.eq_ignore_ascii_case("connection") {
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        }
    }
    (body, close)
}

fn parse_request(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let (body, close) = framing(req.headers, req.version.unwrap_or(1));
            match body {
                Some(Body::Chunked) => Parsed::Foreign("a chunked request body".to_owned()),
                other => Parsed::Head(Head {
                    len,
                    body: other.unwrap_or(Body::Length(0)),
                    close,
                }),
            }
        }
        Ok(httparse::Status::Partial) if buf.len() < HEAD_BYTES_MAX => Parsed::Partial,
        Ok(httparse::Status::Partial) => {
            Parsed::Foreign(format!("a request head over {HEAD_BYTES_MAX} bytes"))
        }
        Err(e) => Parsed::Foreign(format!("not an HTTP/1.1 request ({e})")),
    }
}

/// `head_request`: the answer to a HEAD has no body, whatever it says.
fn parse_response(buf: &[u8], head_request: bool) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut res = httparse::Response::new(&mut headers);
    match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = res.code.unwrap_or(200);
            let (body, close) = framing(res.headers, res.version.unwrap_or(1));
            let body =
                if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
                    Body::Length(0)
                } else {
                    body.unwrap_or(Body::UntilClose)
                };
            Parsed::Head(Head { len, body, close })
        }
        Ok(httparse::Status::Partial) if buf.len() < HEAD_BYTES_MAX => Parsed::Partial,
        Ok(httparse::Status::Partial) => {
            Parsed::Foreign(format!("a response head over {HEAD_BYTES_MAX} bytes"))
        }
        Err(e) => Parsed::Foreign(format!("not an HTTP/1.1 response ({e})")),
    }
}

/// Reads from `stream` into `buf` (appending); `false` at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut chunk))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads until `buf` holds a whole message of `head` (or the stream ends,
/// for [`Body::UntilClose`]); returns the message's length.
async fn read_body(stream: &mut TcpStream, buf: &mut Vec<u8>, head: &Head) -> io::Result<usize> {
    loop {
        let done = match head.body {
            Body::Length(n) => (buf.len() >= head.len + n).then_some(head.len + n),
            Body::Chunked => chunked_end(&buf[head.len..])?.map(|e| head.len + e),
            Body::UntilClose => None,
        };
        if let Some(end) = done {
            return Ok(end);
        }
        if buf.len() > BODY_BYTES_MAX {
            return Err(io::Error::other("a message over the proxy's body limit"));
        }
        if !fill(stream, buf).await? {
            return match head.body {
                Body::UntilClose => Ok(buf.len()),
                _ => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            };
        }
    }
}

/// Where a chunked body ends in `body` (after the last chunk and its
/// trailers), if it is all there.
fn chunked_end(body: &[u8]) -> io::Result<Option<usize>> {
    let mut at = 0;
    loop {
        match httparse::parse_chunk_size(&body[at..]) {
            Ok(httparse::Status::Complete((used, 0))) => {
                // Trailers, then an empty line.
                let rest = &body[at + used..];
                return Ok(rest.windows(2).position(|w| w == b"\r\n").and_then(|i| {
                    if i == 0 {
                        Some(at + used + 2)
                    } else {
                        rest.windows(4)
                            .position(|w| w == b"\r\n\r\n")
                            .map(|j| at + used + j + 4)
                    }
                }));
            }
            Ok(httparse::Status::Complete((used, size))) => {
                let next = at + used + size as usize + 2;
                if next > body.len() {
                    return Ok(None);
                }
                at = next;
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(io::Error::other("a malformed chunked body")),
        }
    }
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Injected")
}

/// The answer squall gives instead of the instance.
fn injected(status: u16, close: bool) -> Vec<u8> {
    let connection = if close { "close" } else { "keep-alive" };
    format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: {connection}\r\nx-squall-fault: error\r\n\r\n",
        reason(status)
    )
    .into_bytes()
}

/// Serves one caller's connection to instance `to`, request by request.
/// `held` is what the caller sent while the connection was held.
pub async fn serve(
    mut client: TcpStream,
    held: Vec<u8>,
    connect: Connect,
    (from, to): (Ipv4Addr, Ipv4Addr),
    delays: Delays,
    errors: Errors,
    seed: u64,
) -> io::Result<()> {
    let mut rng = Jitter::new(seed);
    let mut buf = held;
    let mut upstream: Option<TcpStream> = None;
    let half = |rng: &mut Jitter| {
        let (delay, jitter) = delays.get(from, to);
        delay / 2 + rng.upto(jitter / 2)
    };
    loop {
        let head = loop {
            match parse_request(&buf) {
                Parsed::Head(h) => break h,
                Parsed::Partial => {
                    if !fill(&mut client, &mut buf).await? {
                        return Ok(());
                    }
                }
                Parsed::Foreign(why) => {
                    tracing::warn!(instance = %to, "{why}: passed on untouched, no error injected on this connection");
                    return pass_through(client, buf, upstream, &connect).await;
                }
            }
        };
        let end = read_body(&mut client, &mut buf, &head).await?;
        let request: Vec<u8> = buf.drain(..end).collect();
        let head_request = request.starts_with(b"HEAD ");
        let arrived = Instant::now();
        tokio::time::sleep_until(arrived + half(&mut rng)).await;
        if let Some((status, ppm)) = errors.get(to) {
            if rng.below_million() < ppm {
                tokio::time::sleep(half(&mut rng)).await;
                client.write_all(&injected(status, head.close)).await?;
                if head.close {
                    return Ok(());
                }
                continue;
            }
        }
        // Forward; a pooled upstream the instance closed meanwhile is opened again once.
        let mut answer = Vec::new();
        let mut tries = 0;
        let response = loop {
            tries += 1;
            let up = match upstream.as_mut() {
                Some(u) => u,
                None => upstream.insert(connect().await?),
            };
            let sent = up.write_all(&request).await;
            let parsed = match sent {
                Ok(()) => read_response(up, &mut answer, head_request).await,
                Err(e) => Err(e),
            };
            match parsed {
                Ok(r) => break r,
                Err(e) if tries == 1 && answer.is_empty() => {
                    let _ = e;
                    upstream = None;
                }
                Err(e) => return Err(e),
            }
        };
        let Some((response_close, end)) = response else {
            tracing::warn!(instance = %to, "not an HTTP/1.1 answer: passed on untouched, no error injected on this connection");
            client.write_all(&answer).await?;
            return pass_through(client, buf, upstream, &connect).await;
        };
        tokio::time::sleep(half(&mut rng)).await;
        client.write_all(&answer[..end]).await?;
        if response_close {
            upstream = None;
        }
        if head.close || response_close {
            let _ = client.shutdown().await;
            return Ok(());
        }
    }
}

/// Reads one whole response into `answer`: `(closes, length)`, or `None`
/// if it is not HTTP/1.x.
async fn read_response(
    up: &mut TcpStream,
    answer: &mut Vec<u8>,
    head_request: bool,
) -> io::Result<Option<(bool, usize)>> {
    loop {
        match parse_response(answer, head_request) {
            Parsed::Head(head) => {
                let end = read_body(up, answer, &head).await?;
                let close = head.close || head.body == Body::UntilClose;
                return Ok(Some((close, end)));
            }
            Parsed::Partial => {
                if !fill(up, answer).await? {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
            }
            Parsed::Foreign(_) => return Ok(None),
        }
    }
}

/// Copies both ways, untouched, for the rest of the connection.
async fn pass_through(
    mut client: TcpStream,
    pending: Vec<u8>,
    upstream: Option<TcpStream>,
    connect: &Connect,
) -> io::Result<()> {
    let mut up = match upstream {
        Some(u) => u,
        None => connect().await?,
    };
    up.write_all(&pending).await?;
    tokio::io::copy_bidirectional(&mut client, &mut up).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::net::TcpListener;

    /// A keep-alive HTTP/1.1 server on loopback answering 200 "hello" (chunked
    /// when the path says so), counting the requests it saw.
    async fn server() -> (std::net::SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Parsed::Head(head) = parse_request(&buf) else {
                            if !fill(&mut s, &mut buf).await.unwrap_or(false) {
                                return;
                            }
                            continue;
                        };
                        let end = read_body(&mut s, &mut buf, &head).await.unwrap();
                        let request: Vec<u8> = buf.drain(..end).collect();
                        counter.fetch_add(1, Ordering::Relaxed);
                        let answer: &[u8] = if request.starts_with(b"GET /chunked") {
                            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"
                        } else {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
                        };
                        s.write_all(answer).await.unwrap();
                    }
                });
            }
        });
        (addr, seen)
    }

    /// A proxy in front of `upstream` on loopback, for instance address 127.0.0.1.
    async fn proxy(
        upstream: std::net::SocketAddr,
        errors: Errors,
        delays: Delays,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect: Connect = Arc::new(move || Box::pin(TcpStream::connect(upstream)));
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let (s, _) = listener.accept().await.unwrap();
                n += 1;
                let link = (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
                tokio::spawn(serve(
                    s,
                    Vec::new(),
                    connect.clone(),
                    link,
                    delays.clone(),
                    errors.clone(),
                    n,
                ));
            }
        });
        addr
    }

    /// Sends `n` GETs on one keep-alive connection; the status of each answer.
    async fn get(addr: std::net::SocketAddr, path: &str, n: usize) -> Vec<u16> {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for _ in 0..n {
            s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let (status, end) = loop {
                let mut headers = [httparse::EMPTY_HEADER; 16];
                let mut res = httparse::Response::new(&mut headers);
                if let Ok(httparse::Status::Complete(_)) = res.parse(&buf) {
                    let status = res.code.unwrap();
                    if let Parsed::Head(h) = parse_response(&buf, false) {
                        let end = read_body(&mut s, &mut buf, &h).await.unwrap();
                        break (status, end);
                    }
                }
                assert!(fill(&mut s, &mut buf).await.unwrap(), "the proxy closed");
            };
            buf.drain(..end);
            out.push(status);
        }
        out
    }

    fn all(status: u16, ppm: u32) -> Errors {
        let errors = Errors::default();
        errors.set(HashMap::from([(Ipv4Addr::LOCALHOST, (status, ppm))]));
        errors
    }

    #[tokio::test]
    async fn without_an_error_every_request_is_forwarded_and_answered() {
        let (upstream, seen) = server().await;
        let addr = proxy(upstream, Errors::default(), Delays::default()).await;
        assert_eq!(get(addr, "/", 20).await, vec![200; 20]);
        assert_eq!(get(addr, "/chunked", 5).await, vec![200; 5]);
        assert_eq!(seen.load(Ordering::Relaxed), 25);
    }

    #[tokio::test]
    async fn an_error_at_rate_one_never_reaches_the_instance() {
        let (upstream, seen) = server().await;
        let addr = proxy(upstream, all(503, 1_000_000), Delays::default()).await;
        assert_eq!(get(addr, "/", 10).await, vec![503; 10]);
        assert_eq!(seen.load(Ordering::Relaxed), 0);
    }

    /// 4,000 requests at 30%: the binomial's standard deviation is 0.72
    /// points, so +-3 points is over four of them.
    #[tokio::test]
    async fn errors_come_at_the_asked_rate_and_the_rest_is_forwarded() {
        let (upstream, seen) = server().await;
        let addr = proxy(upstream, all(500, 300_000), Delays::default()).await;
        let mut statuses = Vec::new();
        for _ in 0..8 {
            statuses.extend(get(addr, "/", 500).await);
        }
        let errors = statuses.iter().filter(|s| **s == 500).count();
        let rate = errors as f64 / statuses.len() as f64;
        assert!((rate - 0.3).abs() < 0.03, "measured {rate}");
        assert_eq!(
            seen.load(Ordering::Relaxed) as usize,
            statuses.len() - errors
        );
    }

    #[tokio::test]
    async fn a_latency_fault_on_the_link_delays_each_round_trip() {
        let (upstream, _) = server().await;
        let delays = Delays::default();
        delays.set(HashMap::from([(
            (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST),
            (Duration::from_millis(40), Duration::ZERO),
        )]));
        let addr = proxy(upstream, Errors::default(), delays).await;
        let start = Instant::now();
        assert_eq!(get(addr, "/", 3).await, vec![200; 3]);
        let each = start.elapsed() / 3;
        assert!(
            each >= Duration::from_millis(40) && each < Duration::from_millis(80),
            "{each:?}"
        );
    }

    #[test]
    fn heads_and_bodies_are_framed() {
        let get = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        assert!(matches!(
            parse_request(get),
            Parsed::Head(Head {
                len: 27,
                body: Body::Length(0),
                close: false
            })
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nhost"),
            Parsed::Partial
        ));
        assert!(matches!(
            parse_request(b"\x16\x03\x01\x02\x00"),
            Parsed::Foreign(_)
        ));
        assert!(matches!(
            parse_request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Parsed::Foreign(_)
        ));
        let post = b"POST /x HTTP/1.0\r\ncontent-length: 3\r\n\r\nabc";
        assert!(matches!(
            parse_request(post),
            Parsed::Head(Head {
                body: Body::Length(3),
                close: true,
                ..
            })
        ));
        let close = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nrest";
        assert!(matches!(
            parse_response(close, false),
            Parsed::Head(Head {
                body: Body::UntilClose,
                close: true,
                ..
            })
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 204 No Content\r\n\r\n", false),
            Parsed::Head(Head {
                body: Body::Length(0),
                ..
            })
        ));
        assert_eq!(chunked_end(b"2\r\nhe\r\n0\r\n\r\n").unwrap(), Some(12));
        assert_eq!(chunked_end(b"2\r\nhe\r\n").unwrap(), None);
        assert_eq!(chunked_end(b"0\r\nx-t: 1\r\n\r\n").unwrap(), Some(13));
    }
}
