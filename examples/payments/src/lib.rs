//! Card authorisation as four axum services, written as a team would, and
//! testable in squall's simulator without changing a line of them.
//!
//! `gateway` -> `card-api` -> `ledger` (required) and `fraud` (optional:
//! without it the answer is degraded). Each service is an `async fn(Context)`:
//! the [`Context`] gives it its listener, its HTTP client and squall's layers,
//! over turmoil in a test and over tokio in `main` (`src/main.rs`).
//!
//! The card processor gives the bank 200 ms; the gateway gives card-api
//! 150 ms. card-api's call to the ledger is where the mistake lives
//! ([`Variant`]): [`Variant::Mistaken`] waits up to 200 ms for one ledger
//! replica and never retries, longer than its own caller waits (an inverted
//! timeout); [`Variant::Fixed`] gives each attempt 40 ms and retries once on
//! the next replica with a jittered backoff.

// docs/your-services.md's code is this crate's doctests: the guide cannot
// drift from the API it teaches.
#[doc = include_str!("../../../docs/your-services.md")]
mod guide {}

pub mod calls;
pub mod card_api;
pub mod fraud;
pub mod gateway;
pub mod image;
pub mod ledger;

pub use squall::service::Context;

/// Which card-api the topology runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The ledger call outlives the gateway's timeout and is never retried.
    Mistaken,
    /// 40 ms per attempt, one retry on another replica.
    Fixed,
}

/// The scenario the tests run: `scenarios/payments.toml` of this crate.
pub fn scenario_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/payments.toml")
}

/// The whole topology from code: every service of the scenario is ours.
pub fn simulation(
    variant: Variant,
) -> Result<squall::service::Simulation, squall::service::SimulationError> {
    Ok(with_our_services(
        squall::service::Simulation::load(scenario_path())?,
        variant,
    ))
}

/// The same topology on Docker ([`squall::service::Simulation::run_on_docker`]):
/// every service from [`image::IMAGE`], card-api from `variant`'s image.
/// Build the images first ([`image::build`]).
pub fn on_docker(
    variant: Variant,
) -> Result<squall::service::Simulation, squall::service::SimulationError> {
    Ok(simulation(variant)?.image("card-api", image::card_api_image(variant)))
}

/// `simulation` with every service of the payments topology provided by
/// this crate's code (the benchmark gives it a scenario without faults).
pub fn with_our_services(
    simulation: squall::service::Simulation,
    variant: Variant,
) -> squall::service::Simulation {
    simulation
        .service("gateway", gateway::serve)
        .service("card-api", move |ctx| card_api::serve(ctx, variant))
        .service("ledger", ledger::serve)
        .service("fraud", fraud::serve)
}
