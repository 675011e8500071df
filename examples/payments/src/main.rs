//! One of the services as a real process, on tokio's network: the same code
//! the tests run in the simulator.
//!
//! ```text
//! payments [--mistaken]                                   # in a container squall started
//! payments [--mistaken] SERVICE PORT [DEPENDENCY=HOST:PORT ...]   # by hand
//! ```
//!
//! In a container squall's Docker backend started, the service, its port,
//! seed and dependencies come from `$SQUALL_FIXTURE_CONFIG`
//! ([`Context::from_env`]), and squall's layer answers its admin endpoints:
//! that is how `squall-payments:latest` runs every service of the topology
//! (`cargo run -p payments --example image` builds it). By hand, e.g.
//! `payments card-api 8080 ledger=ledger:8080 fraud=fraud:8080`.
//! `--mistaken` runs card-api with the inverted ledger timeout.

use indexmap::IndexMap;
use payments::{card_api, fraud, gateway, ledger, Context, Variant};
use squall::service::FromEnvError;

const USAGE: &str = "usage: payments [--mistaken] [SERVICE PORT [DEPENDENCY=HOST:PORT ...]]";

fn main() -> std::process::ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let variant = if args.first().map(String::as_str) == Some("--mistaken") {
        args.remove(0);
        Variant::Mistaken
    } else {
        Variant::Fixed
    };
    let ctx = match context(&args) {
        Ok(ctx) => ctx,
        Err(message) => {
            eprintln!("error: {message}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: no tokio runtime: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    let served = runtime.block_on(async {
        match ctx.service() {
            "gateway" => gateway::serve(ctx).await,
            "card-api" => card_api::serve(ctx, variant).await,
            "ledger" => ledger::serve(ctx).await,
            "fraud" => fraud::serve(ctx).await,
            other => Err(std::io::Error::other(format!("unknown service `{other}`"))),
        }
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// The context from the arguments, else from squall's environment.
fn context(args: &[String]) -> Result<Context, String> {
    let Some(service) = args.first() else {
        return match Context::from_env() {
            Ok(ctx) => Ok(ctx),
            Err(FromEnvError::Missing) => Err(format!("no service named\n{USAGE}")),
            Err(e) => Err(e.to_string()),
        };
    };
    let Some(port) = args.get(1).and_then(|p| p.parse().ok()) else {
        return Err(format!("no port for `{service}`\n{USAGE}"));
    };
    let mut dependencies: IndexMap<String, Vec<String>> = IndexMap::new();
    for dep in &args[2..] {
        let Some((name, at)) = dep.split_once('=') else {
            return Err(format!("`{dep}` is not DEPENDENCY=HOST:PORT\n{USAGE}"));
        };
        dependencies
            .entry(name.to_owned())
            .or_default()
            .push(at.to_owned());
    }
    Ok(Context::outside(service, service, port, dependencies))
}
