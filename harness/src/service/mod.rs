//! Your own Rust services in a squall topology: code instead of the fixture,
//! in `cargo test`, with the same scenario files, faults, invariants, reports
//! and replay by seed.
//!
//! A team's axum or hyper service is written against squall's network types
//! ([`Listener`] for `axum::serve`, [`Connector`] for hyper-util's client),
//! which run over turmoil in the simulator and over tokio in production, and
//! wrapped in squall's tower layers ([`ServerLayer`], [`ClientLayer`]) so
//! that squall sees its requests (spans, counts) and can inject `error`
//! faults into it. A [`Simulation`] loads a scenario, takes some of its
//! services from code (each started with a [`Context`]: its instance name,
//! replica, seed and dependencies), runs it, and gives an [`Outcome`]:
//! verdicts, the report, and a panic with `squall run`'s lines and the seed
//! to replay when an invariant fails.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use squall::service::{Context, Simulation};
//!
//! async fn fraud(ctx: Context) -> std::io::Result<()> {
//!     let app = Router::new()
//!         .route("/score", get(|| async { "0.1" }))
//!         .layer(ctx.layer());
//!     axum::serve(ctx.listener().await?, app).await
//! }
//!
//! #[test]
//! fn card_auth_holds_with_our_fraud_service() {
//!     Simulation::load("scenarios/card-auth.toml")
//!         .unwrap()
//!         .service("fraud", fraud)
//!         .run()
//!         .unwrap()
//!         .assert_held();
//! }
//! ```
//!
//! docs/your-services.md is the guide: how to make a service testable, what
//! each fault does to code, what breaks determinism.

mod context;
pub mod layer;
pub mod net;
mod replay;
mod simulation;

pub(crate) use context::replica_of;
pub use context::{Context, FromEnvError};
pub use layer::{ClientLayer, ClientService, Server, ServerLayer};
pub use net::{Connector, Listener, Net, Stream};
pub use replay::{Divergence, Ended, HopChange, HopEvent, USUAL_CAUSES};
pub(crate) use simulation::CodeService;
pub use simulation::{CodeServiceHandle, Outcome, Provided, Simulation, SimulationError, SEED_VAR};
