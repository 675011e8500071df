//! Builds `squall-busybox:latest` offline, the image
//! `scenarios/compose/docker-compose.yml` runs: BusyBox's httpd from Debian's
//! `busybox-static` package (`apt-get download`, no registry).
//!
//! ```text
//! cargo run --release -p squall --example busybox_image
//! ```

#[path = "support/busybox.rs"]
mod busybox;

use std::process::ExitCode;

fn main() -> ExitCode {
    let binary = match busybox::binary(&busybox::cache_dir()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot get busybox: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let built = runtime.block_on(async {
        let (docker, _) = squall::docker::connect().await.map_err(|e| e.to_string())?;
        busybox::build(&docker, binary).await
    });
    match built {
        Ok(()) => {
            println!("built {}", busybox::TAG);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}
