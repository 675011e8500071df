//! The validated scenario: what the engine, the backends and the checkers read.
//!
//! Every value here has passed [`validate`](super::validate): services named in calls,
//! targets and invariants exist, instance indices are in range, durations fit inside the
//! run. Consumers can rely on that instead of checking again.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::explore::ExploreConfig;

/// One scenario file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`; defaults to the file stem.
    pub name: String,
    /// `description`; defaults to "".
    pub description: String,
    /// The file it was read from (as given to [`load`](super::load) or [`parse`](super::parse)).
    pub path: PathBuf,
    /// Length of the load phase.
    pub duration: Duration,
    /// Default seed; `--seed` overrides it.
    pub seed: u64,
    /// What the suite expects of this scenario.
    pub expect: Expect,
    pub sim: SimConfig,
    pub workload: Workload,
    /// Services in file order.
    pub services: IndexMap<String, Service>,
    /// Faults in file order.
    pub faults: Vec<Fault>,
    /// Invariants in file order.
    pub invariants: Vec<Invariant>,
    /// `[explore]`: what `squall explore` draws fault schedules from.
    pub explore: Option<ExploreConfig>,
    /// `[docker]`: what the Docker backend runs; the simulator ignores it.
    pub docker: DockerConfig,
    /// `[gameday]`: targets in a running system squall did not start.
    pub gameday: Option<super::gameday::GamedayConfig>,
}

/// `[docker]`: settings of the Docker backend for the whole scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerConfig {
    /// `image`: the image of every service that names none of its own;
    /// `None` is squall's fixture image.
    pub image: Option<String>,
    /// `compose`: the compose file whose services join the topology.
    pub compose: Option<ComposeFile>,
}

/// `[docker] compose = "..."`: where the file is, and where the scenario names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeFile {
    /// Relative to the scenario file's directory, as read.
    pub path: PathBuf,
    /// Line and column of the `compose` key's value in the scenario file.
    pub line: usize,
    pub col: usize,
}

/// `[services.X.docker]`: how one service runs on the Docker backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceDocker {
    /// `image`: this service's own image; `None` takes `[docker] image`.
    pub image: Option<String>,
    /// `port`: the TCP port the image serves HTTP on; `None` is the fixture's.
    pub port: Option<u16>,
    /// The service comes from the compose file: what to run (its `image`
    /// and `port` are copied above).
    pub compose: Option<super::compose::ComposeService>,
}

/// The verdict the suite expects: a documented weakness expects `Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    #[default]
    Pass,
    Fail,
}

/// `[sim]`: knobs of the deterministic simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub tick: Duration,
    /// Base one-way network latency between `latency_min` and `latency_max`:
    /// turmoil 0.7.2 draws it from an exponential distribution (`Exp(5)`) scaled
    /// into that range, so most messages take close to `latency_min`.
    pub latency_min: Duration,
    pub latency_max: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tick: Duration::from_millis(1),
            latency_min: Duration::ZERO,
            latency_max: Duration::from_millis(1),
        }
    }
}

/// `[workload]`: the open-loop load offered to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// A service in `services`.
    pub target: String,
    /// An endpoint of `target`.
    pub path: String,
    /// Requests per second, in `(0, 100_000]`.
    pub rate: f64,
    pub arrival: Arrival,
    /// The caller's timeout; greater than zero.
    pub deadline: Duration,
    /// Excluded from invariants; shorter than the run.
    pub warmup: Duration,
}

/// How requests are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    #[default]
    Constant,
    Poisson,
}

/// One service: `replicas` instances named `<name>-1`, `<name>-2`, ...
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// In `1..=64`.
    pub replicas: u32,
    /// How this service's clients choose among a downstream service's instances.
    pub balancer: Balancer,
    /// Endpoints in file order, keyed by path (`/authorise`).
    pub endpoints: IndexMap<String, Endpoint>,
    /// Requests in flight per instance; more are refused.
    pub concurrency_limit: Option<u32>,
    /// A circuit breaker per downstream instance, for this service's calls.
    pub breaker: Option<Breaker>,
    /// Honour the caller's remaining budget, pass it downstream, clamp timeouts to it.
    pub propagate_deadline: bool,
    /// `[services.X.docker]`: its image and port on the Docker backend.
    pub docker: ServiceDocker,
}

/// `breaker = { failures, cooldown }`: open after `failures` consecutive
/// failures of one downstream instance, probe it again after `cooldown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// In `1..=1000`.
    pub failures: u32,
    /// Greater than 0.
    pub cooldown: Duration,
}

/// Load-balancing policy of a service's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balancer {
    #[default]
    RoundRobin,
    Random,
    P2cEwma,
    EpsilonGreedy,
}

/// What an endpoint does with a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Endpoint {
    /// Own processing time.
    pub work: Work,
    /// Fraction answered 500 by the service itself, in `0..=1`.
    pub error_rate: f64,
    /// Downstream calls; same `group` runs in parallel, groups in ascending order.
    pub calls: Vec<Call>,
}

/// Own processing time of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// `work = "1ms"`.
    Fixed(Duration),
    /// `work = { mean = "2ms" }`: exponentially distributed.
    Mean(Duration),
    /// `work = { p50 = "2ms", p99 = "20ms" }`, with `p99 >= p50`.
    Percentiles { p50: Duration, p99: Duration },
}

impl Default for Work {
    fn default() -> Self {
        Work::Fixed(Duration::ZERO)
    }
}

/// One downstream call made by an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// A service other than the caller.
    pub to: String,
    /// An endpoint of `to`.
    pub path: String,
    /// `None` when the file leaves it out; `squall check` flags that.
    pub timeout: Option<Duration>,
    /// Extra attempts after the first, at most 10.
    pub retries: u32,
    /// Base of exponential backoff with jitter.
    pub backoff: Duration,
    /// A failed optional call leaves the answer degraded instead of failed.
    pub required: bool,
    pub group: u32,
    /// After this delay, send the same call to another replica.
    pub hedge: Option<Duration>,
    /// Retries may add at most this fraction to the calls a client makes.
    pub retry_budget: Option<f64>,
}

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Start, from the beginning of the load phase; before the run ends.
    pub at: Duration,
    /// `at + for`, at most the run's duration; `None` lasts to the end.
    pub until: Option<Duration>,
    /// 1-based line and column of the entry's `kind` value, for messages
    /// (0 for a fault made in code).
    pub line: usize,
    pub col: usize,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Stop the instances; healing starts them again.
    Kill { target: Target },
    /// Stop and start again at once.
    Restart { target: Target },
    /// Freeze the instances (SIGSTOP-like).
    Pause { target: Target },
    /// Cut the instances from everyone.
    Isolate { target: Target },
    /// Delay traffic on the scoped links.
    Latency {
        scope: LinkScope,
        delay: Duration,
        jitter: Duration,
    },
    /// Drop this fraction of packets on the scoped links, in `(0, 1]`.
    Loss { scope: LinkScope, rate: f64 },
    /// Cut side 1 from side 2 (and side 2 from side 1 unless `one_way`).
    Partition {
        sides: (Vec<Target>, Vec<Target>),
        one_way: bool,
    },
    /// Answer this fraction of requests with `status` instead of serving them.
    Error {
        target: Target,
        status: u16,
        rate: f64,
    },
}

/// Which links a latency or loss fault touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkScope {
    /// `target = "fraud-2"`: traffic the instances send.
    Instance(Target),
    /// `between = ["a", "b"]`: traffic between the two, both ways.
    Between(Target, Target),
}

/// The instances a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `"ledger-2"`: one instance, 1-based, at most the service's replicas.
    Instance { service: String, index: u32 },
    /// `"ledger"`: every instance of the service.
    Service(String),
    /// `"ledger:1"`: `count` instances picked by the run's seed.
    Pick { service: String, count: u32 },
}

impl Target {
    /// The service the target's instances belong to.
    pub fn service(&self) -> &str {
        match self {
            Target::Instance { service, .. } | Target::Pick { service, .. } => service,
            Target::Service(service) => service,
        }
    }
}

/// Gives back the spelling the scenario file used.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Instance { service, index } => write!(f, "{service}-{index}"),
            Target::Service(service) => f.write_str(service),
            Target::Pick { service, count } => write!(f, "{service}:{count}"),
        }
    }
}

/// One property checked over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Invariant {
    pub kind: InvariantKind,
    /// 1-based line of the entry's `kind`, for messages.
    pub line: usize,
}

/// Which invariant of a scenario: its index in `[[invariants]]`, from 0 in
/// file order (the order of `report.json`'s `invariants`).
///
/// The identity explore compares: a `label` is for people, and two
/// `latency p99` invariants over different windows share theirs. It stays
/// valid in a regression file, which keeps the invariants as they were.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct InvariantId(pub usize);

impl fmt::Display for InvariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant {}", self.0)
    }
}

/// What an invariant checks.
#[derive(Debug, Clone, PartialEq)]
pub enum InvariantKind {
    /// At most this fraction of requests see a caller timeout.
    Answered { max_ratio: f64 },
    /// The `percentile` latency stays at or under `max` during the window.
    Latency {
        percentile: f64,
        max: Duration,
        during: Window,
    },
    /// At least `min` of requests succeed during the window.
    Success {
        min: f64,
        degraded_is_success: bool,
        during: Window,
    },
    /// After the last heal, p99 and success return to the baseline's within this.
    Recovery { within: Duration },
    /// Calls reaching `service` per request offered stay at or under `max`.
    Amplification { service: String, max: f64 },
    /// Endpoint work done after its caller stopped waiting, as a fraction of
    /// all endpoint work, stays at or under `max_ratio`.
    WastedWork { max_ratio: f64 },
}

/// The part of a run an invariant looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// From the end of warm-up to the end.
    #[default]
    All,
    /// From the end of warm-up to one workload deadline before the first fault
    /// (a request sent later may still be in flight when the fault starts).
    Baseline,
    /// The union of fault windows.
    Faults,
    /// From the last heal to the end.
    Recovery,
    /// `"20s..40s"`, with `start < end <= duration`.
    Range(Duration, Duration),
}
