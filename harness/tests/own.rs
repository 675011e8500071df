//! Code services in the simulator (`squall::service`): a real axum service
//! among fixture services, under the same faults and invariants as the
//! fixture, replayed by seed.
//!
//! The topology: workload -> `front` (axum code, 2 replicas) -> `back`
//! (squall's fixture, 2 replicas). `front` calls `back:80` (a service name,
//! resolved to its replicas in turn) with a 50 ms timeout through squall's
//! client layer, and answers 502 when the call fails.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use squall::service::{ClientService, Connector, Context, Listener, Net, Simulation};
use tower::ServiceExt;

type Downstream = ClientService<Client<Connector, Empty<Bytes>>>;

/// `front`'s handler: one call to `back`, 50 ms at most.
async fn authorise(State(client): State<Downstream>) -> StatusCode {
    let request = http::Request::get("http://back:80/reserve")
        .body(Empty::new())
        .expect("a static request");
    let call = client.oneshot(request);
    match tokio::time::timeout(Duration::from_millis(50), call).await {
        Ok(Ok(response)) if response.status().is_success() => StatusCode::OK,
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn app(ctx: &Context, layered: bool) -> Router {
    let client = tower::ServiceBuilder::new()
        .layer(ctx.client_layer())
        .service(ctx.client::<Empty<Bytes>>());
    let app = Router::new()
        .route("/authorise", get(authorise))
        .with_state(client);
    if layered {
        app.layer(ctx.layer())
    } else {
        app
    }
}

async fn front(ctx: Context) -> std::io::Result<()> {
    let app = app(&ctx, true);
    axum::serve(ctx.listener().await?, app).await
}

async fn bare_front(ctx: Context) -> std::io::Result<()> {
    let app = app(&ctx, false);
    axum::serve(ctx.listener().await?, app).await
}

/// `rest`: faults and more invariants, appended.
fn scenario(rest: &str) -> squall::scenario::Scenario {
    let text = format!(
        r#"
name = "own"
duration = "6s"
seed = 7

[workload]
target = "front"
path = "/authorise"
rate = 100
deadline = "200ms"

[services.front]
replicas = 2
[services.front.endpoints."/authorise"]
work = "1ms"
calls = [{{ to = "back", path = "/reserve", timeout = "50ms" }}]

[services.back]
replicas = 2
[services.back.endpoints."/reserve"]
work = "2ms"

[[invariants]]
kind = "success"
min = 0.99

[[invariants]]
kind = "wasted_work"
max_ratio = 0.5

[[invariants]]
kind = "amplification"
service = "front"
max = 1.01
{rest}"#
    );
    squall::scenario::parse(&text, Path::new("own.toml"))
        .unwrap_or_else(|e| panic!("scenario does not parse: {e}"))
}

#[test]
fn an_axum_service_among_fixtures_holds_and_is_measured() {
    let outcome = Simulation::new(scenario(""))
        .service("front", front)
        .run()
        .expect("runs");
    outcome.assert_held();
    let lines = outcome.lines();
    // Every request reached `front` once, counted by squall's layer.
    let amplification = outcome.verdict("amplification front").expect("judged");
    assert_eq!(amplification.observed, Some(1.0), "{lines}");
    // `front`'s spans joined the fixture's: wasted work is measured.
    let wasted = outcome.verdict("wasted work").expect("judged");
    assert!(wasted.observed.is_some(), "{lines}");
    assert!(!wasted.message.contains("not measured"), "{lines}");
    // The trace of the slowest requests has both hops: front's attempt named back's span.
    let json = outcome.report_json();
    assert!(
        json.contains("\"front-1\"") || json.contains("front-1"),
        "{json}"
    );
}

#[test]
fn the_same_seed_gives_the_same_report_json() {
    let run = || {
        Simulation::new(scenario(KILL_BACK))
            .service("front", front)
            .run()
            .expect("runs")
            .report_json()
    };
    let (a, b) = (run(), run());
    assert!(a == b, "two runs of one seed differ");
    let other = Simulation::new(scenario(KILL_BACK))
        .service("front", front)
        .seed(8)
        .run()
        .expect("runs")
        .report_json();
    assert_ne!(a, other, "another seed gives another run");
}

const KILL_BACK: &str = r#"
[[faults]]
kind = "kill"
target = "back-1"
at = "2s"
for = "1s"
"#;

#[test]
fn a_killed_code_instance_is_started_again() {
    let starts: Rc<Cell<u32>> = Rc::default();
    let counted = Rc::clone(&starts);
    let outcome = Simulation::new(scenario(
        r#"
[[faults]]
kind = "kill"
target = "front-1"
at = "2s"
for = "1s"

[[faults]]
kind = "restart"
target = "front-2"
at = "4s"
"#,
    ))
    .service("front", move |ctx: Context| {
        counted.set(counted.get() + 1);
        front(ctx)
    })
    .run()
    .expect("runs");
    // Two first starts, one after the kill healed, one restart.
    assert_eq!(starts.get(), 4, "{}", outcome.lines());
    // Requests sent to the dead instance fail: the run sees the kill.
    assert!(!outcome.verdict("success").expect("judged").held);
}

#[test]
fn network_faults_reach_code_services() {
    for (fault, what) in [
        (
            "kind = \"partition\"\nbetween = [[\"front\"], [\"back\"]]",
            "partition",
        ),
        ("kind = \"isolate\"\ntarget = \"front-1\"", "isolate"),
        ("kind = \"pause\"\ntarget = \"front-1\"", "pause"),
        (
            "kind = \"latency\"\ntarget = \"front\"\ndelay = \"300ms\"",
            "latency",
        ),
    ] {
        let outcome = Simulation::new(scenario(&format!(
            "[[faults]]\n{fault}\nat = \"2s\"\nfor = \"2s\"\n"
        )))
        .service("front", front)
        .run()
        .expect("runs");
        let success = outcome.verdict("success").expect("judged");
        assert!(
            !success.held,
            "{what} left every request a success\n{}",
            outcome.lines()
        );
    }
}

#[test]
fn an_error_fault_goes_through_squalls_layer() {
    let outcome = Simulation::new(scenario(
        "[[faults]]\nkind = \"error\"\ntarget = \"front\"\nstatus = 503\nrate = 1.0\nat = \"2s\"\nfor = \"2s\"\n",
    ))
    .service("front", front)
    .run()
    .expect("runs");
    let success = outcome.verdict("success").expect("judged");
    assert!(!success.held, "{}", outcome.lines());
    let observed = success.observed.expect("measured");
    // Two of six seconds answered 503: about a third failed, no more.
    assert!((0.55..0.75).contains(&observed), "{}", outcome.lines());
}

#[test]
fn an_error_fault_on_code_without_the_layer_is_refused_before_running() {
    let error = Simulation::new(scenario(
        "[[faults]]\nkind = \"error\"\ntarget = \"front\"\nstatus = 503\nrate = 0.5\nat = \"2s\"\n",
    ))
    .service_without_layer("front", bare_front)
    .run()
    .err()
    .expect("refused");
    let text = error.to_string();
    assert!(
        text.starts_with("own.toml:36:8: `error` on `front` needs squall's server layer"),
        "{text}"
    );
    assert!(
        text.contains("(hint: provide `front` with `service`"),
        "{text}"
    );
}

#[test]
fn without_the_layer_spans_and_counts_are_not_measured() {
    let outcome = Simulation::new(scenario(""))
        .service_without_layer("front", bare_front)
        .run()
        .expect("runs");
    let amplification = outcome.verdict("amplification front").expect("judged");
    assert!(!amplification.held);
    assert!(
        amplification
            .message
            .starts_with("not measured: `front` is code without squall's server layer"),
        "{}",
        amplification.message
    );
    let wasted = outcome.verdict("wasted work").expect("judged");
    assert!(
        wasted
            .message
            .contains("not measured at `front` (code without squall's server layer"),
        "{}",
        wasted.message
    );
    // The workload still measures what it sees.
    assert!(outcome.verdict("success").expect("judged").held);
}

#[test]
fn a_service_said_to_use_the_layer_that_never_builds_it_is_an_error() {
    let error = Simulation::new(scenario(""))
        .service("front", bare_front)
        .run()
        .err()
        .expect("an error");
    assert!(
        error
            .to_string()
            .starts_with("`front` was provided with `service`"),
        "{error}"
    );
}

#[test]
fn an_unknown_service_is_named_with_the_known_ones() {
    let error = Simulation::new(scenario(""))
        .service("frnot", front)
        .run()
        .err()
        .expect("an error");
    assert_eq!(
        error.to_string(),
        "`frnot` is provided by code, but own.toml has no such service\n  (hint: its services: `front`, `back`)"
    );
}

#[test]
fn a_failed_invariant_panics_with_the_lines_and_the_replay() {
    let outcome = Simulation::new(scenario(
        "[[faults]]\nkind = \"kill\"\ntarget = \"front\"\nat = \"1s\"\nfor = \"4s\"\n",
    ))
    .service("front", front)
    .run()
    .expect("runs");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| outcome.assert_held()))
        .expect_err("it panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("        Seed  7\n"), "{text}");
    assert!(text.contains("      FAILED  success"), "{text}");
    assert!(text.contains("SQUALL_SEED=7 cargo test"), "{text}");
}

/// The same service code outside the simulator: tokio's sockets, a real
/// port, the same handler and layers.
#[test]
fn the_same_code_runs_on_tokio() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // back: a tiny axum service on a real port.
        let back = Listener::bind(Net::Tokio, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("binds");
        let back_addr = back.local_addr().expect("an address");
        tokio::spawn(async move {
            let app = Router::new().route("/reserve", get(|| async { "reserved" }));
            axum::serve(back, app).await
        });
        let ctx = Context::outside(
            "front",
            "front-1",
            0,
            indexmap::IndexMap::from([("back".to_owned(), vec![back_addr.to_string()])]),
        );
        let client = tower::ServiceBuilder::new()
            .layer(ctx.client_layer())
            .service(Connector::new(Net::Tokio).client::<Empty<Bytes>>());
        let request = http::Request::get(format!("http://{back_addr}/reserve"))
            .body(Empty::new())
            .expect("a request");
        let response = client.oneshot(request).await.expect("answered");
        assert_eq!(response.status(), 200);
        assert_eq!(ctx.replicas("back"), [back_addr.to_string()]);
    });
}

/// Requests the leaky `front` has served in this process, across runs: the
/// kind of state a `static` carries from one run into the next.
static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `front`, but the first 50 requests this process ever sends it are slow.
async fn leaky_front(ctx: Context) -> std::io::Result<()> {
    let client = tower::ServiceBuilder::new()
        .layer(ctx.client_layer())
        .service(ctx.client::<Empty<Bytes>>());
    let app = Router::new()
        .route(
            "/authorise",
            get(|State(client): State<Downstream>| async move {
                if SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 50 {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                authorise(State(client)).await
            }),
        )
        .with_state(client)
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}

#[test]
fn the_replay_check_finds_no_difference_in_a_deterministic_service() {
    let divergence = Simulation::new(scenario(
        "[[faults]]\nkind = \"kill\"\ntarget = \"back-1\"\nat = \"2s\"\nfor = \"1s\"\n",
    ))
    .service("front", front)
    .check_replay()
    .expect("runs");
    assert_eq!(divergence, None);
}

#[test]
fn the_replay_check_names_the_first_request_and_instance_that_differ() {
    let divergence = Simulation::new(scenario(""))
        .service("front", leaky_front)
        .check_replay()
        .expect("runs")
        .expect("the second run differs: the static counter is past 50");
    // The first request is slow in the first run only: `front-1` (it takes
    // the first request) called `back` 3 ms later than in the second run.
    let squall::service::Divergence::Request { request, hop, .. } = &divergence else {
        panic!("a request differs: {divergence}");
    };
    assert_eq!(*request, 0, "{divergence}");
    let hop = hop.as_ref().expect("a hop differs");
    assert_eq!(hop.instance, "front-1", "{divergence}");
    assert!(
        matches!(&hop.what, squall::service::HopEvent::Called { callee } if callee.starts_with("back-")),
        "{divergence}"
    );
    let text = divergence.to_string();
    assert!(
        text.starts_with("two runs of one seed differ from request 0 (sent at 0ms)"),
        "{text}"
    );
    assert!(text.contains("a `static`"), "{text}");
}
