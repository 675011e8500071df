//! Builds the fixture image offline: the static `squall-fixture` binary, then
//! `squall-fixture:latest` (`FROM scratch`) on the Docker engine.
//!
//! ```text
//! cargo run --release -p squall --example fixture_image
//! ```

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent");
    let binary = match squall::docker::image::build_static_fixture(workspace) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let built = runtime.block_on(async {
        let (docker, _) = squall::docker::connect().await?;
        squall::docker::image::build(&docker, &binary).await
    });
    match built {
        Ok(true) => println!(
            "{:>12}  {} from {}",
            "Built",
            squall::docker::image::FIXTURE_IMAGE,
            binary.display()
        ),
        Ok(false) => println!(
            "{:>12}  {} already holds {}",
            "Fresh",
            squall::docker::image::FIXTURE_IMAGE,
            binary.display()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::SUCCESS
}
