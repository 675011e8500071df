//! squall: a chaos and latency-injection test harness for service topologies.
//!
//! A scenario file (see [`scenario`]) describes a topology of services built
//! from the reference fixture (`squall-fixture`), an open-loop workload, a
//! schedule of faults and the invariants that must hold. A backend runs it and
//! produces a [`record::RunRecord`]: the deterministic turmoil simulator
//! ([`sim::run`]) or real containers ([`docker::run`]); both take the same
//! [`engine::RunOptions`] and fail with the same [`engine::RunError`].
//! [`invariant`] judges the record (whatever the backend) and [`report`]
//! writes what people and CI read. [`check`] analyses a scenario's timeout
//! budgets without running it, and [`explore`] searches random fault
//! schedules and shrinks a failure.
//!
//! ```no_run
//! let scenario = squall::scenario::load("scenarios/card-auth.toml".as_ref()).unwrap();
//! let record = squall::sim::run(&scenario, &squall::engine::RunOptions::default()).unwrap();
//! let verdicts = squall::invariant::evaluate(&scenario, &record);
//! assert!(verdicts.iter().all(|v| v.held));
//! ```

pub mod check;
pub mod docker;
pub mod engine;
pub mod exit;
pub mod explore;
pub mod fault;
pub mod gameday;
pub mod interrupt;
pub mod invariant;
pub mod record;
pub mod report;
pub mod scenario;
pub mod service;
pub mod sim;
pub mod stats;
pub mod suite;
pub mod topology;
pub mod trace;
pub mod workload;
