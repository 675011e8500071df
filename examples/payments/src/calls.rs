//! What every service shares: its downstream client (hyper-util over
//! squall's connector, wrapped in squall's client layer), the replicas of a
//! dependency, and one call with a timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use squall::service::{ClientService, Connector, Context};
use tower::ServiceExt;

/// The client a service calls downstream with.
pub type Downstream = ClientService<Client<Connector, Empty<Bytes>>>;

/// Builds it: squall's client layer forwards the request id and deadline
/// and records each call for the traces.
pub fn downstream(ctx: &Context) -> Downstream {
    tower::ServiceBuilder::new()
        .layer(ctx.client_layer())
        .service(ctx.client::<Empty<Bytes>>())
}

/// A dependency's replicas, one request to each in turn: client-side round
/// robin, as gRPC's and most service meshes' balancers do. Each replica has
/// its own pooled connections, so a slow replica keeps its share of the
/// requests, as it does in production (a pool keyed by the service's name
/// would quietly move every request to whichever connection is idle).
#[derive(Clone)]
pub struct Replicas {
    authorities: Arc<[String]>,
    next: Arc<AtomicUsize>,
}

impl Replicas {
    /// `service`'s replicas from the context (`ledger-1:80`, ...); its name
    /// on port 80 when the context lists none.
    pub fn of(ctx: &Context, service: &str) -> Self {
        let listed = ctx.replicas(service);
        let authorities: Arc<[String]> = if listed.is_empty() {
            Arc::from([format!("{service}:80")])
        } else {
            Arc::from(listed)
        };
        Replicas {
            authorities,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The replica for this request, and the one after it (where a retry
    /// goes, so it never lands on the replica that just failed).
    pub fn pick(&self) -> (&str, &str) {
        let n = self.authorities.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (
            self.authorities[first].as_str(),
            self.authorities[(first + 1) % n].as_str(),
        )
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Called {
    /// An answer, with its status and its `squall-degraded` header.
    Answer {
        status: u16,
        degraded: Option<String>,
    },
    /// No answer within the timeout.
    TimedOut,
    /// No answer: the connection failed.
    Failed,
}

impl Called {
    pub fn is_success(&self) -> bool {
        matches!(self, Called::Answer { status, .. } if (200..300).contains(status))
    }
}

/// `GET http://{to}{path}`, reading the whole answer, `timeout` at most.
pub async fn get(client: &Downstream, to: &str, path: &str, timeout: Duration) -> Called {
    let Ok(request) = http::Request::get(format!("http://{to}{path}")).body(Empty::new()) else {
        return Called::Failed;
    };
    let call = async {
        let response = client.clone().oneshot(request).await.ok()?;
        let status = response.status().as_u16();
        let degraded = response
            .headers()
            .get("squall-degraded")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Read the body so the connection goes back to the pool.
        response.into_body().collect().await.ok()?;
        Some(Called::Answer { status, degraded })
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(Some(called)) => called,
        Ok(None) => Called::Failed,
        Err(_) => Called::TimedOut,
    }
}
