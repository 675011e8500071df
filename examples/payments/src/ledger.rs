//! The ledger: reserves the amount. Takes about 3 ms.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use squall::service::Context;

pub async fn serve(ctx: Context) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/reserve",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(3)).await;
                "reserved"
            }),
        )
        .layer(ctx.layer());
    axum::serve(ctx.listener().await?, app).await
}
