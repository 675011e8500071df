//! The payments services as Docker images, built offline: the static
//! `payments` binary (`src/main.rs`) alone in a `FROM scratch` image, as
//! squall builds its own fixture. One binary runs every service: in a
//! container squall started it reads which one from its environment
//! ([`squall::service::Context::from_env`]). The two images differ only in
//! their command: [`MISTAKEN_IMAGE`] passes `--mistaken`.
//!
//! ```text
//! cargo run -p payments --example image
//! ```

use std::path::{Path, PathBuf};

use squall::docker::image::{build_rootfs, build_static, RootfsFile};
use squall::docker::DockerError;

use crate::Variant;

/// The image of every service, card-api fixed: what `scenarios/payments.toml` runs on Docker.
pub const IMAGE: &str = "squall-payments:latest";

/// The same binary, card-api with the inverted ledger timeout.
pub const MISTAKEN_IMAGE: &str = "squall-payments-mistaken:latest";

/// The port the services listen on in their containers (the scenario's `port`).
pub const PORT: u16 = 8080;

/// The image card-api runs for `variant`.
pub fn card_api_image(variant: Variant) -> &'static str {
    match variant {
        Variant::Fixed => IMAGE,
        Variant::Mistaken => MISTAKEN_IMAGE,
    }
}

/// Builds the static binary (into the target dir squall's fixture image is
/// built in, so the two share their dependencies), then both images on the
/// Docker engine. Returns the binary's path.
pub fn build() -> Result<PathBuf, DockerError> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| {
            DockerError::Engine("examples/payments/ has no workspace above it".into())
        })?;
    let binary = build_static(workspace, "payments", "payments")?;
    let data = std::fs::read(&binary)
        .map_err(|e| DockerError::Engine(format!("cannot read {}: {e}", binary.display())))?;
    let files = [RootfsFile {
        path: "/payments".to_owned(),
        data,
        mode: 0o755,
        link: None,
    }];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DockerError::Engine(format!("no tokio runtime: {e}")))?;
    runtime.block_on(async {
        let (docker, _) = squall::docker::connect().await?;
        build_rootfs(&docker, IMAGE, &files, &["/payments"]).await?;
        build_rootfs(
            &docker,
            MISTAKEN_IMAGE,
            &files,
            &["/payments", "--mistaken"],
        )
        .await
    })?;
    Ok(binary)
}
