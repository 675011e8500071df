//! A tonic gRPC service in the simulator: squall's [`Connector`] is the
//! connector tonic's `Channel` takes, and a tonic server is served through
//! squall's listener with `axum::serve` (`Routes::into_axum_router`), so a
//! team's gRPC hops run under the same faults and invariants.
//!
//! The service is written as `tonic-build` would generate it (a `prost`
//! message pair and a hand-made `NamedService`), to keep `protoc` out of the
//! build.
//!
//! The topology: workload -> `front` (axum, HTTP/1) -> `fraud` (tonic, gRPC
//! over HTTP/2, 2 replicas). `front` asks `fraud` for a score with a 40 ms
//! deadline and answers degraded without one.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use axum::Router;
use squall::service::{Context, Simulation};
use tonic::codegen::http;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
pub struct ScoreRequest {
    #[prost(string, tag = "1")]
    pub card: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ScoreReply {
    #[prost(uint32, tag = "1")]
    pub score: u32,
}

const SCORE: &str = "/payments.Fraud/Score";

/// The server side: one unary method that takes about 2 ms.
#[derive(Clone)]
struct FraudGrpc;

struct Score;

impl tonic::server::UnaryService<ScoreRequest> for Score {
    type Response = ScoreReply;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<ScoreReply>, tonic::Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<ScoreRequest>) -> Self::Future {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let score = request.into_inner().card.len() as u32;
            Ok(tonic::Response::new(ScoreReply { score }))
        })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for FraudGrpc {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != SCORE {
                return Ok(tonic::Status::unimplemented("no such method").into_http());
            }
            let mut grpc =
                tonic::server::Grpc::new(ProstCodec::<ScoreReply, ScoreRequest>::default());
            Ok(grpc.unary(Score, request).await)
        })
    }
}

impl tonic::server::NamedService for FraudGrpc {
    const NAME: &'static str = "payments.Fraud";
}

async fn fraud(ctx: Context) -> std::io::Result<()> {
    let app = tonic::service::Routes::new(FraudGrpc)
        .into_axum_router()
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}

/// The client side: a tonic `Channel` per fraud replica over squall's
/// connector, one request to each in turn.
#[derive(Clone)]
struct Scorers {
    channels: Vec<Channel>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn score(scorers: &Scorers) -> Result<u32, tonic::Status> {
    let i = scorers
        .next
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        % scorers.channels.len();
    let mut grpc = tonic::client::Grpc::new(scorers.channels[i].clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let reply = grpc
        .unary(
            tonic::Request::new(ScoreRequest {
                card: "4111".into(),
            }),
            http::uri::PathAndQuery::from_static(SCORE),
            ProstCodec::<ScoreRequest, ScoreReply>::default(),
        )
        .await?;
    Ok(reply.into_inner().score)
}

async fn authorise(State(scorers): State<Scorers>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    match tokio::time::timeout(Duration::from_millis(40), score(&scorers)).await {
        Ok(Ok(_)) => {}
        _ => {
            headers.insert("squall-degraded", HeaderValue::from_static("fraud"));
        }
    }
    headers
}

async fn front(ctx: Context) -> std::io::Result<()> {
    let channels = ctx
        .replicas("fraud")
        .iter()
        .map(|authority| {
            // A connect timeout, as a team should set one: turmoil does not
            // retransmit a SYN, so without it a reconnect to a killed replica
            // would wait forever instead of trying again after the heal.
            Endpoint::from_shared(format!("http://{authority}"))
                .map(|e| {
                    e.connect_timeout(Duration::from_millis(100))
                        .connect_with_connector_lazy(ctx.connector())
                })
                .map_err(std::io::Error::other)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scorers = Scorers {
        channels,
        next: Default::default(),
    };
    let app = Router::new()
        .route("/authorise", get(authorise))
        .with_state(scorers)
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}

fn scenario(faults: &str) -> squall::scenario::Scenario {
    let text = format!(
        r#"
name = "grpc"
duration = "6s"
seed = 3

[workload]
target = "front"
path = "/authorise"
rate = 100
deadline = "100ms"

[services.front]
replicas = 1
[services.front.endpoints."/authorise"]
work = "1ms"
calls = [{{ to = "fraud", path = "/payments.Fraud/Score", timeout = "40ms", required = false }}]

[services.fraud]
replicas = 2
[services.fraud.endpoints."/payments.Fraud/Score"]
work = "2ms"

[[invariants]]
kind = "success"
min = 0.99

[[invariants]]
kind = "amplification"
service = "fraud"
max = 1.01
{faults}"#
    );
    squall::scenario::parse(&text, Path::new("grpc.toml"))
        .unwrap_or_else(|e| panic!("scenario does not parse: {e}"))
}

#[test]
fn a_tonic_service_is_called_over_squalls_connector_and_measured() {
    let outcome = Simulation::new(scenario(""))
        .service("front", front)
        .service("fraud", fraud)
        .run()
        .expect("runs");
    outcome.assert_held();
    // Every request reached fraud once, over gRPC, counted by squall's layer.
    let fraud = &outcome.report.services["fraud"];
    assert_eq!(fraud.calls, 600, "{}", outcome.lines());
    assert_eq!(
        fraud.instances.values().copied().collect::<Vec<_>>(),
        [300, 300]
    );
    assert_eq!(
        outcome.report.degraded_by.get("fraud"),
        None,
        "{}",
        outcome.lines()
    );
}

#[test]
fn a_killed_tonic_replica_degrades_the_answers_and_comes_back() {
    let outcome = Simulation::new(scenario(
        "[[faults]]\nkind = \"kill\"\ntarget = \"fraud-2\"\nat = \"2s\"\nfor = \"2s\"\n",
    ))
    .service("front", front)
    .service("fraud", fraud)
    .run()
    .expect("runs");
    // Half of the scores during the kill are lost: degraded, still answered.
    let degraded = outcome
        .report
        .degraded_by
        .get("fraud")
        .copied()
        .unwrap_or(0);
    assert!(
        (50..=110).contains(&degraded),
        "{degraded} degraded\n{}",
        outcome.lines()
    );
    assert!(
        outcome.verdict("success").expect("judged").held,
        "{}",
        outcome.lines()
    );
    // After the heal the restarted replica serves again.
    let fraud2 = outcome.report.services["fraud"].instances["fraud-2"];
    assert!(fraud2 > 150, "fraud-2 served {fraud2}\n{}", outcome.lines());
}

#[test]
fn a_tonic_topology_replays_the_same_run() {
    let divergence = Simulation::new(scenario(
        "[[faults]]\nkind = \"kill\"\ntarget = \"fraud-1\"\nat = \"1s\"\nfor = \"1s\"\n",
    ))
    .service("front", front)
    .service("fraud", fraud)
    .check_replay()
    .expect("runs");
    assert!(divergence.is_none(), "{}", divergence.unwrap());
}
