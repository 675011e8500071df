//! The gateway: the card processor's entry point. Gives card-api 150 ms of
//! the processor's 200, and passes a degraded answer on as it came.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use squall::service::Context;

use crate::calls::{downstream, get as call, Called, Downstream, Replicas};

/// What the gateway waits for card-api.
pub const CARD_API_TIMEOUT: Duration = Duration::from_millis(150);

async fn authorise(
    State((client, card_api)): State<(Downstream, Replicas)>,
) -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    let (to, _) = card_api.pick();
    match call(&client, to, "/authorise", CARD_API_TIMEOUT).await {
        Called::Answer { status, degraded } => {
            if let Some(d) = degraded.and_then(|d| HeaderValue::from_str(&d).ok()) {
                headers.insert("squall-degraded", d);
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, headers)
        }
        Called::TimedOut => (StatusCode::GATEWAY_TIMEOUT, headers),
        Called::Failed => (StatusCode::BAD_GATEWAY, headers),
    }
}

pub async fn serve(ctx: Context) -> std::io::Result<()> {
    let app = Router::new()
        .route("/authorise", get(authorise))
        .with_state((downstream(&ctx), Replicas::of(&ctx, "card-api")))
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}
