//! What a backend is: the few things the run core ([`super::run`]) cannot do
//! itself, because they depend on where the topology lives.
//!
//! The core owns the meaning of a run: the fault timeline, the faults in
//! force and the state they want, the workload's schedule and what each
//! request means ([`super::request`], [`super::load`]), the figures gathered
//! as answers and spans come in ([`super::collect`]), and the record at the
//! end. A backend only
//!
//! 1. brings the topology up with the workload ready ([`Backend::up`]),
//! 2. lets its clock run ([`Backend::now`], [`Backend::advance`]),
//! 3. puts instances and links into the state the core wants
//!    ([`Backend::reconcile`]),
//! 4. hands over the instances' spans and counters ([`Backend::spans`],
//!    [`Backend::received`]),
//! 5. ends the load, undoes every fault, and tears down ([`Backend::end`],
//!    [`Backend::down`]).
//!
//! The simulator (`sim/`) steps turmoil and never waits; Docker (`docker/`)
//! sleeps on real time. A backend that attaches to a running system fits the
//! same shape: `up` connects instead of creating, and `down` removes only
//! what squall added.

use std::time::Duration;

use indexmap::IndexMap;
use squall_fixture::Drained;

use super::collect::Answers;
use super::{Desired, RunError, RunOptions};
use crate::fault::PlannedFault;
use crate::scenario::Scenario;
use crate::workload::Arrivals;

/// Requests that reached each instance, grouped by service (file order).
pub type Received = IndexMap<String, IndexMap<String, u64>>;

/// What a backend is given to bring a run up.
pub struct Setup<'a> {
    pub scenario: &'a Scenario,
    pub opts: &'a RunOptions,
    pub seed: u64,
    /// The load phase.
    pub duration: Duration,
    pub plan: &'a [PlannedFault],
    /// The workload, ready to go.
    pub load: Load,
}

/// The workload one run sends: open loop, to the target service's replicas
/// in turn ([`super::load::drive`] sends it on any backend).
pub struct Load {
    /// The target service's instances, by name; the backend knows their address.
    pub targets: Vec<String>,
    pub path: String,
    /// How long the caller waits for each answer.
    pub deadline: Duration,
    /// Send times since the start of the load phase, from the seed.
    pub schedule: Arrivals,
    /// Told of every request sent and every answer.
    pub answers: Answers,
}

/// Spans one instance handed over, and how its clock maps onto the load
/// phase's timeline (time since the load phase began).
pub struct Spans {
    /// The instance's position in topology order (services in file order,
    /// replicas from 1: [`crate::fault::instances`]).
    pub instance: usize,
    pub drained: Drained,
    pub on_load: Box<dyn Fn(Duration) -> Duration>,
}

/// Where a run happens. Static dispatch only (the core is generic over it),
/// so the futures of its `async fn`s need no `Send` bound: the simulator's
/// hold turmoil's single-threaded world.
#[allow(async_fn_in_trait)]
pub trait Backend: Sized {
    /// What this backend needs beyond the scenario (Docker: its abort guard).
    type Extra;

    /// The fault plan the run follows: the scenario's faults resolved from
    /// the seed ([`crate::fault::plan`]); a game day's picks its targets
    /// among the containers both keys allow, as its reviewed plan says.
    fn plan(
        scenario: &Scenario,
        seed: u64,
        duration: Duration,
        extra: &Self::Extra,
    ) -> Vec<PlannedFault> {
        let _ = extra;
        crate::fault::plan(scenario, seed, duration)
    }

    /// Brings the topology up, with the workload ready to start when time
    /// first passes.
    async fn up(setup: Setup<'_>, extra: Self::Extra) -> Result<Self, RunError>;

    /// The clock the fault plan is measured on: since the load phase began,
    /// or (the simulator) since the world began, a step before it.
    fn now(&self) -> Duration;

    /// `now` as time into the load phase.
    fn load_time(&self, now: Duration) -> Duration {
        now
    }

    /// Lets time pass up to `until` on [`Backend::now`]'s clock, or less (a
    /// simulator steps one tick). `false` once the workload has ended: every
    /// request sent has its answer or reached its deadline.
    async fn advance(&mut self, until: Duration) -> Result<bool, RunError>;

    /// Brings instances and links to the state `want`, and restarts
    /// `restarts` (each once) unless `want` has them down; due at `at`.
    async fn reconcile(
        &mut self,
        want: &Desired,
        restarts: &[String],
        at: Duration,
    ) -> Result<(), RunError>;

    /// Stops sending (the run was interrupted); requests in flight go on.
    fn stop_load(&mut self);

    /// Whether [`Backend::spans`] hands over spans as they end, every second
    /// of the run (the simulator), or only at the end (Docker reads them
    /// back once). A request's trace is closed only once its spans can have
    /// come: a backend that hands them over at the end must not have its
    /// traces closed before, or its hops would count as late and wasted.
    const SPANS_AS_THEY_END: bool;

    /// The spans that ended since the last call; with `all`, every span left.
    async fn spans(&mut self, all: bool) -> Vec<Spans>;

    /// Requests that reached each instance.
    async fn received(&mut self) -> Received;

    /// The load phase is over, as `ran` says: checks nothing interfered from
    /// outside and undoes every fault. The run's result from here on.
    async fn end(&mut self, ran: Result<(), RunError>) -> Result<(), RunError>;

    /// Removes what the run created; the run's result, given what
    /// [`Backend::end`] said (`ended`).
    async fn down(self, ended: Result<(), RunError>) -> Result<(), RunError>;
}
