//! What every service shares: its downstream client (hyper-util over
//! squall's connector, wrapped in squall's client layer) and one call with a
//! timeout.

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
