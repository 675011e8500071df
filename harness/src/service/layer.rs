//! squall's tower layers for a code service: [`ServerLayer`] around its
//! HTTP server, [`ClientLayer`] around its HTTP client.
//!
//! The server layer is what lets squall see inside a service it did not
//! write. For each request it
//! - records a span (arrival, answer, status; the handler's time counts as
//!   its work), so traces, wasted work and the slowest requests cover it;
//! - counts the request, so `amplification` can judge calls to it;
//! - answers an `error` fault's status for the fault's fraction of requests,
//!   drawn from the instance's seed, before the handler runs;
//! - keeps the request's id (`x-request-id`), deadline (`squall-deadline`)
//!   and span for the client layer, in a task-local scope around the handler.
//!
//! The client layer, on every request the handler sends downstream, forwards
//! the request id and the deadline (unless the handler set its own), records
//! the attempt in the handler's span and names it in `squall-parent`, so the
//! downstream hop's span joins the same trace. A client used outside a
//! handler (a background task) sends what it is given.
//!
//! In a container squall's Docker backend started
//! ([`super::Context::from_env`]) the server layer does the same, and also
//! answers squall's admin endpoints under `/squall/` ([`squall_fixture::admin`]:
//! health, stats, spans, clock, error) before the service's routes see them,
//! so the backend reads the service as it reads its own fixture. Otherwise
//! outside the simulator ([`ServerLayer::pass_through`]) the server layer
//! records nothing and injects nothing; the client layer still forwards the
//! request id and the deadline.
//!
//! ```no_run
//! # async fn example(ctx: squall::service::Context) -> std::io::Result<()> {
//! use axum::{routing::get, Router};
//! let app = Router::new().route("/score", get(|| async { "ok" })).layer(ctx.layer());
//! axum::serve(ctx.listener().await?, app).await
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use squall_fixture::config::ADMIN_PREFIX;
use squall_fixture::deadline::DEADLINE_HEADER;
use squall_fixture::rng::{SharedRng, Stream};
use squall_fixture::trace::{
    AttemptGuard, AttemptSpan, SpanGuard, SpanHandle, NOTE_INJECTED, PARENT_HEADER,
};
use squall_fixture::{AttemptOutcome, Control, REQUEST_ID_HEADER};

use super::net::Names;

tokio::task_local! {
    /// The request a handler is serving, for the client layer.
    static SCOPE: Scope;
}

/// What the client layer needs of the request being served.
#[derive(Clone)]
struct Scope {
    request_id: Option<HeaderValue>,
    deadline: Option<HeaderValue>,
    /// The span and the instance's control, in the simulator.
    tap: Option<(SpanHandle, Control, Arc<str>)>,
}

/// The simulator's hold on one instance life: its control and error draws.
#[derive(Clone)]
pub(crate) struct Tap {
    pub(crate) control: Control,
    pub(crate) instance: Arc<str>,
    pub(crate) errors: SharedRng,
}

impl Tap {
    /// The tap of one start of an instance (`start` from 0).
    pub(crate) fn new(control: Control, instance: &str, seed: u64, start: u64) -> Self {
        Tap {
            control,
            instance: instance.into(),
            errors: SharedRng::new(seed, start, Stream::Faults),
        }
    }
}

/// squall's server layer: spans, counts and `error` faults for a code
/// service (module docs). Build it with [`super::Context::layer`].
#[derive(Clone)]
pub struct ServerLayer {
    tap: Option<Tap>,
}

impl ServerLayer {
    /// A layer that only scopes the request id and deadline for the client
    /// layer: what a service uses outside the simulator.
    pub fn pass_through() -> Self {
        ServerLayer { tap: None }
    }

    pub(crate) fn tapped(tap: Tap) -> Self {
        ServerLayer { tap: Some(tap) }
    }
}

impl<S> tower::Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        Server {
            inner,
            tap: self.tap.clone(),
        }
    }
}

/// The service [`ServerLayer`] wraps around a server.
#[derive(Clone)]
pub struct Server<S> {
    inner: S,
    tap: Option<Tap>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn header(headers: &HeaderMap, name: &str) -> Option<HeaderValue> {
    headers.get(name).cloned()
}

/// An admin answer in the server's own body type (axum's `Body` and
/// hyper's `Full<Bytes>` are both `From<Bytes>`).
async fn admin_answer<RB: From<Bytes>>(answer: Response<Full<Bytes>>) -> Response<RB> {
    let (parts, body) = answer.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    Response::from_parts(parts, RB::from(bytes))
}

impl<S, B, RB> tower::Service<Request<B>> for Server<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Default + From<Bytes> + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request_id = header(request.headers(), REQUEST_ID_HEADER);
        let deadline = header(request.headers(), DEADLINE_HEADER);
        let Some(tap) = self.tap.clone() else {
            let scope = Scope {
                request_id,
                deadline,
                tap: None,
            };
            return Box::pin(SCOPE.scope(scope, self.inner.call(request)));
        };
        let uri = request.uri();
        if uri.path().starts_with(ADMIN_PREFIX) {
            let answer = squall_fixture::admin::answer(
                &tap.control,
                request.method(),
                uri.path(),
                uri.query(),
            );
            return Box::pin(async move { Ok(admin_answer(answer).await) });
        }
        let span = SpanHandle::start(request.uri().path().into(), request.headers());
        tap.control.record_span(span.clone());
        tap.control.count_received();
        let guard = SpanGuard(span.clone());
        let echo = |response: &mut Response<RB>| {
            if let Some(id) = &request_id {
                response.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
            }
        };
        if let Some(injected) = tap.control.error() {
            if tap.errors.chance(injected.rate) {
                let mut response = Response::new(RB::default());
                *response.status_mut() = StatusCode::from_u16(injected.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                echo(&mut response);
                span.with(|s| {
                    s.note = Some(NOTE_INJECTED);
                    s.status = Some(response.status().as_u16());
                });
                tap.control.count_completed();
                drop(guard);
                return Box::pin(std::future::ready(Ok(response)));
            }
        }
        // The handler's time is its work: from here to its answer (or drop).
        span.with(|s| s.work = Some((s.start, None)));
        let scope = Scope {
            request_id: request_id.clone(),
            deadline,
            tap: Some((span.clone(), tap.control.clone(), tap.instance.clone())),
        };
        let answer = SCOPE.scope(scope, self.inner.call(request));
        Box::pin(async move {
            let guard = guard;
            let mut answered = answer.await;
            if let Ok(response) = &mut answered {
                if let Some(id) = &request_id {
                    response.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
                }
                guard
                    .0
                    .with(|s| s.status = Some(response.status().as_u16()));
            } else {
                guard.0.with(|s| s.status = Some(500));
            }
            tap.control.count_completed();
            drop(guard);
            answered
        })
    }
}

/// squall's client layer: forwards the request id and deadline, and records
/// each request as an attempt of the handler's span (module docs). Build it
/// with [`super::Context::client_layer`] (or [`ClientLayer::default`] outside
/// the simulator).
#[derive(Clone, Default)]
pub struct ClientLayer {
    names: Arc<Names>,
}

impl ClientLayer {
    pub(crate) fn new(names: Arc<Names>) -> Self {
        ClientLayer { names }
    }
}

impl<S> tower::Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> ClientService<S> {
        ClientService {
            inner,
            names: Arc::clone(&self.names),
        }
    }
}

/// The service [`ClientLayer`] wraps around a client.
#[derive(Clone)]
pub struct ClientService<S> {
    inner: S,
    names: Arc<Names>,
}

impl<S, B, RB> tower::Service<Request<B>> for ClientService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let scope = SCOPE.try_with(Scope::clone).ok();
        let mut attempt = None;
        if let Some(scope) = scope {
            let headers = request.headers_mut();
            for (name, value) in [
                (REQUEST_ID_HEADER, scope.request_id),
                (DEADLINE_HEADER, scope.deadline),
            ] {
                if let (false, Some(value)) = (headers.contains_key(name), value) {
                    headers.insert(name, value);
                }
            }
            if let Some((span, control, instance)) = scope.tap {
                let host = request.uri().host().unwrap_or_default();
                let to: Arc<str> = request.uri().authority().map_or("", |a| a.as_str()).into();
                let service: Arc<str> = self.names.service_of(host).unwrap_or(host).into();
                let id = control.next_attempt_id();
                if let Ok(parent) = HeaderValue::from_str(&format!("{instance}#{id}")) {
                    request.headers_mut().insert(PARENT_HEADER, parent);
                }
                // Earlier attempts to the same service in this span: retries.
                let retry =
                    span.with(|s| s.attempts.iter().filter(|a| a.service == service).count());
                let index = span.attempt(AttemptSpan {
                    id,
                    service,
                    to,
                    retry: u32::try_from(retry).unwrap_or(u32::MAX),
                    hedge: false,
                    start: squall_fixture::clock::now(),
                    end: None,
                    outcome: AttemptOutcome::Pending,
                });
                attempt = Some(AttemptGuard { span, index });
            }
        }
        let sent = self.inner.call(request);
        Box::pin(async move {
            // Dropped before the answer (a timeout or the caller went away):
            // the guard ends the attempt as cancelled.
            let attempt = attempt;
            let answered = sent.await;
            if let Some(a) = &attempt {
                let outcome = match &answered {
                    Ok(response) => AttemptOutcome::Status(response.status().as_u16()),
                    Err(_) => AttemptOutcome::Error,
                };
                a.span.end_attempt(a.index, outcome);
            }
            answered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    #[tokio::test]
    async fn a_tapped_layer_answers_squalls_admin_endpoints_in_front_of_the_routes() {
        let control = Control::default();
        let layer = ServerLayer::tapped(Tap::new(control.clone(), "ledger-1", 7, 0));
        let routes = tower::service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("reserved"))))
        });
        let mut server = layer.layer(routes);
        let mut get = async |path: &str| {
            let request = Request::get(path).body(Full::new(Bytes::new())).unwrap();
            let response = server.ready().await.unwrap().call(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        };
        assert_eq!(
            get("/reserve").await,
            (StatusCode::OK, "reserved".to_owned())
        );
        let (status, stats) = get("/squall/stats").await;
        assert_eq!(status, StatusCode::OK);
        assert!(stats.contains(r#""received":1,"completed":1"#), "{stats}");
        let (_, spans) = get("/squall/spans").await;
        assert!(spans.contains(r#""path":"/reserve""#), "{spans}");
        assert_eq!(get("/squall/nope").await.0, StatusCode::NOT_FOUND);
        // Admin requests are not the service's: they count for nothing.
        assert_eq!(control.received(), 1);
    }
}
