//! What a run leaves behind for judging: every workload request with its
//! scheduled time, latency and outcome, the fault timeline as applied, and the
//! calls that reached each instance.
//!
//! A backend fills a [`RunRecord`]; invariants and reports only read it, so the
//! checkers never depend on how the faults were injected.

use std::time::Duration;

use indexmap::IndexMap;

/// How one workload request ended, as its caller saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with a complete answer.
    Ok,
    /// 200, but some optional dependencies were left out (their names).
    Degraded(Vec<String>),
    /// An HTTP error status.
    Error(u16),
    /// No HTTP answer: connection refused, reset or closed.
    Failed,
    /// No answer before the caller's deadline.
    Timeout,
}

impl Outcome {
    /// Whether the request counts as a success, given how degraded answers count.
    pub fn is_success(&self, degraded_is_success: bool) -> bool {
        match self {
            Outcome::Ok => true,
            Outcome::Degraded(_) => degraded_is_success,
            _ => false,
        }
    }
}

/// One request of the open-loop workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the workload meant to send it, since the start of the load phase.
    pub scheduled: Duration,
    /// From the scheduled time to the answer; the deadline for a timeout, so a
    /// stalled system cannot hide its slow period (no coordinated omission).
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// A fault as the backend applied it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedFault {
    /// Its position in the scenario's `[[faults]]`, from 0.
    pub index: usize,
    /// `kill`, `latency`, ...
    pub kind: &'static str,
    /// A one-line description of what was done, with its parameters.
    pub detail: String,
    /// The instances (or links) it touched, resolved from the targets.
    pub targets: Vec<String>,
    /// When it was applied, since the start of the load phase.
    pub start: Duration,
    /// When it was healed; `None` when it lasted to the end.
    pub end: Option<Duration>,
}

/// Everything a run produced that the invariants and reports read.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// The backend that ran it (`sim`, `docker`).
    pub backend: &'static str,
    /// The seed every random choice came from.
    pub seed: u64,
    /// Length of the load phase.
    pub duration: Duration,
    /// Workload requests, in scheduled order.
    pub requests: Vec<RequestRecord>,
    /// The fault timeline, in scenario order.
    pub faults: Vec<AppliedFault>,
    /// Requests that reached each instance, grouped by service (file order).
    pub received: IndexMap<String, IndexMap<String, u64>>,
}

impl RunRecord {
    /// Calls that reached a service (all its instances), over the whole run.
    pub fn calls_to(&self, service: &str) -> u64 {
        self.received
            .get(service)
            .map(|instances| instances.values().sum())
            .unwrap_or(0)
    }
}
