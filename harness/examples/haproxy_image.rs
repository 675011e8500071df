//! Builds `squall-haproxy:latest` offline, the gateway image of
//! `scenarios/compose/haproxy-*.yml`: this machine's Debian HAProxy
//! (`apt-get install haproxy`) with its libraries, `FROM scratch`.
//!
//! ```text
//! cargo run --release -p squall --example haproxy_image
//! ```

#[path = "support/haproxy.rs"]
mod haproxy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let built = runtime.block_on(async {
        let (docker, _) = squall::docker::connect().await.map_err(|e| e.to_string())?;
        haproxy::build(&docker).await
    });
    match built {
        Ok(()) => {
            println!("built {}", haproxy::TAG);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}
