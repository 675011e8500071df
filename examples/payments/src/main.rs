//! One of the services as a real process, on tokio's network: the same code
//! the tests run in the simulator.
//!
//! `payments SERVICE PORT [DEPENDENCY=HOST:PORT,...]`, e.g.
//! `payments card-api 8080 ledger=ledger:8080 fraud=fraud:8080`.

use indexmap::IndexMap;
use payments::{card_api, fraud, gateway, ledger, Context, Variant};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(service), Some(port)) = (args.first(), args.get(1).and_then(|p| p.parse().ok()))
    else {
        eprintln!("usage: payments SERVICE PORT [DEPENDENCY=HOST:PORT ...]");
        return std::process::ExitCode::from(2);
    };
    let mut dependencies: IndexMap<String, Vec<String>> = IndexMap::new();
    for dep in &args[2..] {
        if let Some((name, at)) = dep.split_once('=') {
            dependencies
                .entry(name.to_owned())
                .or_default()
                .push(at.to_owned());
        }
    }
    let ctx = Context::outside(service, service, port, dependencies);
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
        match service.as_str() {
            "gateway" => gateway::serve(ctx).await,
            "card-api" => card_api::serve(ctx, Variant::Fixed).await,
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
