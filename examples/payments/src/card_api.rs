//! card-api: reserves on the ledger (required), then asks fraud for a score
//! (optional: without one the answer is degraded, `squall-degraded: fraud`).
//!
//! The ledger call is the hop this example is about ([`crate::Variant`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use squall::service::Context;

use crate::calls::{downstream, get as call, Downstream, Replicas};
use crate::Variant;

/// The mistake: one attempt that may wait longer than the gateway waits for
/// card-api (150 ms): when a ledger replica turns slow, the gateway has
/// given up before card-api does, and nobody retries.
pub const MISTAKEN_LEDGER_TIMEOUT: Duration = Duration::from_millis(200);
/// The fix: a short attempt, so a second fits in the budget.
pub const LEDGER_TIMEOUT: Duration = Duration::from_millis(40);
/// Base of the retry backoff; the wait is drawn in `[base, 2 * base)`.
pub const BACKOFF: Duration = Duration::from_millis(5);
/// What card-api waits for fraud.
pub const FRAUD_TIMEOUT: Duration = Duration::from_millis(30);

#[derive(Clone)]
struct CardApi {
    client: Downstream,
    ledger: Replicas,
    fraud: Replicas,
    variant: Variant,
    /// Backoff jitter, seeded by squall (never the OS: replay).
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl CardApi {
    async fn reserve(&self) -> bool {
        let (first, next) = self.ledger.pick();
        match self.variant {
            Variant::Mistaken => call(&self.client, first, "/reserve", MISTAKEN_LEDGER_TIMEOUT)
                .await
                .is_success(),
            Variant::Fixed => {
                if call(&self.client, first, "/reserve", LEDGER_TIMEOUT)
                    .await
                    .is_success()
                {
                    return true;
                }
                let jitter = self
                    .rng
                    .lock()
                    .map(|mut r| r.random_range(0..BACKOFF.as_micros() as u64))
                    .unwrap_or(0);
                tokio::time::sleep(BACKOFF + Duration::from_micros(jitter)).await;
                // On the next replica: never the one that just failed.
                call(&self.client, next, "/reserve", LEDGER_TIMEOUT)
                    .await
                    .is_success()
            }
        }
    }
}

async fn authorise(State(api): State<CardApi>) -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    if !api.reserve().await {
        return (StatusCode::BAD_GATEWAY, headers);
    }
    let (fraud, _) = api.fraud.pick();
    let score = call(&api.client, fraud, "/score", FRAUD_TIMEOUT).await;
    if !score.is_success() {
        headers.insert("squall-degraded", HeaderValue::from_static("fraud"));
    }
    (StatusCode::OK, headers)
}

pub async fn serve(ctx: Context, variant: Variant) -> std::io::Result<()> {
    let api = CardApi {
        client: downstream(&ctx),
        ledger: Replicas::of(&ctx, "ledger"),
        fraud: Replicas::of(&ctx, "fraud"),
        variant,
        rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(
            ctx.seed() ^ ctx.restarts(),
        ))),
    };
    let app = Router::new()
        .route("/authorise", get(authorise))
        .with_state(api)
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}
