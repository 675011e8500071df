//! `[explore]`, validated: the space of fault schedules `squall explore` draws
//! from.
//!
//! It is read and checked with the rest of the file (`validate/explore.rs`),
//! so a typo in a kind or a target is refused at `file:line:col` by `squall
//! run` and `squall check` as well as by `squall explore`, through the one
//! [`ScenarioError`](super::ScenarioError).

use std::time::Duration;

/// At most this many explored faults per case (`max_faults`).
pub const MAX_FAULTS: usize = 16;

/// A kind of fault explore can inject, mildest first: shrinking moves a fault
/// towards the front of this list (among the kinds a case enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExploreKind {
    Latency,
    Error,
    Pause,
    Restart,
    Kill,
    Partition,
    Isolate,
}

impl ExploreKind {
    /// Every kind, mildest first.
    pub const ALL: [ExploreKind; 7] = [
        ExploreKind::Latency,
        ExploreKind::Error,
        ExploreKind::Pause,
        ExploreKind::Restart,
        ExploreKind::Kill,
        ExploreKind::Partition,
        ExploreKind::Isolate,
    ];

    /// The spelling of scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ExploreKind::Latency => "latency",
            ExploreKind::Error => "error",
            ExploreKind::Pause => "pause",
            ExploreKind::Restart => "restart",
            ExploreKind::Kill => "kill",
            ExploreKind::Partition => "partition",
            ExploreKind::Isolate => "isolate",
        }
    }

    /// The kind spelled `name` in a scenario file.
    pub fn parse(name: &str) -> Option<ExploreKind> {
        ExploreKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where an explored fault may land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExploreTarget {
    /// `"ledger"`: one instance of the service, chosen per fault.
    Service { name: String, replicas: u32 },
    /// `"ledger-2"`: that instance only.
    Instance { service: String, index: u32 },
}

impl ExploreTarget {
    pub fn service(&self) -> &str {
        match self {
            ExploreTarget::Service { name, .. } => name,
            ExploreTarget::Instance { service, .. } => service,
        }
    }
}

/// `[explore]`, validated against its scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploreConfig {
    /// Kinds a case may draw from, mildest first, without repeats.
    pub kinds: Vec<ExploreKind>,
    /// Targets, in file order.
    pub targets: Vec<ExploreTarget>,
    /// Explored faults per case, `min_faults..=max_faults` (before the
    /// concurrency limits drop any).
    pub min_faults: usize,
    pub max_faults: usize,
    /// At most this many faults active at once, the scenario's own included.
    pub max_concurrent: usize,
    /// At most this many faults active at once on one service.
    pub max_concurrent_per_service: usize,
    /// Explored faults start no earlier than this (default: warm-up + 1s, so
    /// the run has a baseline).
    pub start: Option<Duration>,
    /// Explored faults are healed this long before the load phase ends, so
    /// recovery can be judged.
    pub settle: Duration,
    /// Length of a fault, `length_min..=length_max` (clipped to the window).
    pub length_min: Duration,
    pub length_max: Duration,
    /// `latency` faults: added round-trip delay and jitter ranges.
    pub delay_min: Duration,
    pub delay_max: Duration,
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    /// `error` faults: fraction of requests answered with an error.
    pub error_rate_min: f64,
    pub error_rate_max: f64,
    /// `error` faults: statuses to pick from.
    pub status: Vec<u16>,
    /// Swarm testing: each case enables a random non-empty subset of `kinds`.
    pub swarm: bool,
}
