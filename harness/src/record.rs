//! What a run leaves behind for judging: every workload request with its
//! scheduled time, latency and outcome, the fault timeline as applied, the
//! calls that reached each instance, and each request's trace: every hop that
//! served it, with its work and its downstream attempts.
//!
//! A backend fills a [`RunRecord`]; invariants and reports only read it, so the
//! checkers never depend on how the faults were injected.
//!
//! The simulator streams its figures as the run goes ([`Figures`]) and keeps
//! the requests and traces themselves only when asked
//! ([`crate::engine::RunOptions::figures_only`] off, as tests do): a long run
//! then holds figures, not requests. A record without figures (Docker, tests)
//! has them worked out from its requests and traces when judged.

use std::time::Duration;

use indexmap::IndexMap;
pub use squall_fixture::AttemptOutcome;

use crate::invariant::Figures;

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
    /// How a workload request that got an answer (or a connection error)
    /// before its deadline ended.
    pub fn of_reply(reply: Result<squall_fixture::Reply, squall_fixture::ClientError>) -> Self {
        match reply {
            Ok(r) if r.status == 200 && r.degraded.is_empty() => Outcome::Ok,
            Ok(r) if r.status == 200 => Outcome::Degraded(r.degraded),
            Ok(r) => Outcome::Error(r.status),
            Err(_) => Outcome::Failed,
        }
    }

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
    pub kind: crate::fault::FaultClass,
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
    /// The backend that ran it.
    pub backend: crate::engine::BackendKind,
    /// The seed every random choice came from.
    pub seed: u64,
    /// Length of the load phase.
    pub duration: Duration,
    /// Workload requests, in scheduled order; empty when only figures were kept.
    pub requests: Vec<RequestRecord>,
    /// The fault timeline, in scenario order.
    pub faults: Vec<AppliedFault>,
    /// Requests that reached each instance, grouped by service (file order).
    pub received: IndexMap<String, IndexMap<String, u64>>,
    /// Per workload request (same index as `requests`), the hops that served
    /// it, in start order ([`crate::trace`]); a request no instance saw has none.
    /// Empty when only figures were kept.
    pub traces: Vec<Vec<Hop>>,
    /// The figures streamed during the run; `None` when the backend kept the
    /// requests and traces instead (they are then worked out from those).
    pub figures: Option<Figures>,
}

/// An instance, service or path name as a trace holds it: interned, so a
/// hop or an attempt shares its name with every other one (a clone is a
/// reference count, not a copy), and it reads as a `&str`.
pub type Name = std::sync::Arc<str>;

/// What one instance did for one workload request.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// `card-api-1`: interned ([`Name`]), one allocation per instance for
    /// every hop of the run.
    pub instance: Name,
    pub path: Name,
    /// The caller's attempt (`gateway-1#12`); `None` when the workload called.
    pub parent: Option<String>,
    /// Arrival and answer (or drop), since the start of the load phase.
    pub start: Duration,
    pub end: Duration,
    /// Its own work, start and end.
    pub work: Option<(Duration, Duration)>,
    /// Work done after its caller stopped waiting ([`RunRecord::wasted`]).
    pub wasted: Duration,
    /// Status answered; `None` when the handler was dropped (caller went away).
    pub status: Option<u16>,
    /// Why it answered without doing its job (`shed`, `no time left`, ...).
    pub note: Option<&'static str>,
    pub attempts: Vec<Attempt>,
}

/// One attempt a hop made downstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// Unique within the calling instance.
    pub id: u64,
    /// The downstream service.
    pub service: Name,
    /// The instance it went to; empty when it was not sent.
    pub to: String,
    /// 0 for a first attempt, `k` for the `k`-th retry.
    pub retry: u32,
    pub hedge: bool,
    pub start: Duration,
    pub end: Duration,
    /// How it ended (reports write it `200`, `503`, `timeout`, `error`,
    /// `cancelled`, `breaker-open`, `no-budget`, `no-time`: [`attempt_outcome`]).
    pub outcome: AttemptOutcome,
}

/// How reports spell an attempt's outcome: its status, or what happened instead.
pub fn attempt_outcome(outcome: AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Status(status) => status.to_string(),
        AttemptOutcome::Pending => "pending".into(),
        AttemptOutcome::Timeout => "timeout".into(),
        AttemptOutcome::Error => "error".into(),
        AttemptOutcome::Cancelled => "cancelled".into(),
        AttemptOutcome::BreakerOpen => "breaker-open".into(),
        AttemptOutcome::NoBudget => "no-budget".into(),
        AttemptOutcome::NoTime => "no-time".into(),
    }
}

/// Endpoint work over a run, and the part of it nobody was waiting for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    pub total: Duration,
    pub wasted: Duration,
}

impl Work {
    /// Wasted over total; 0 when no work was done.
    pub fn wasted_ratio(&self) -> f64 {
        if self.total.is_zero() {
            0.0
        } else {
            self.wasted.as_secs_f64() / self.total.as_secs_f64()
        }
    }
}

impl RunRecord {
    /// Calls that reached a service (all its instances), over the whole run.
    pub fn calls_to(&self, service: &str) -> u64 {
        self.received
            .get(service)
            .map(|instances| instances.values().sum())
            .unwrap_or(0)
    }

    /// Endpoint work over the whole run, in total and wasted, for all
    /// services (`None`) or one.
    pub fn work(&self, service: Option<&str>) -> Work {
        let mut work = Work::default();
        let instances = service.and_then(|s| self.received.get(s));
        for hop in self.traces.iter().flatten() {
            if instances.is_some_and(|i| !i.contains_key(&*hop.instance)) {
                continue;
            }
            if let Some((start, end)) = hop.work {
                work.total += end.saturating_sub(start);
                work.wasted += hop.wasted;
            }
        }
        work
    }

    /// Works out each hop's wasted work: the part of its work done after its
    /// caller stopped waiting for it. The caller of a hop is the attempt named
    /// by its parent (it stopped waiting when that attempt ended: answered,
    /// timed out, or cancelled because its own caller went away or a hedge won);
    /// the caller of the first hop is the workload, which stops waiting at the
    /// answer or the deadline.
    pub fn compute_wasted(&mut self) {
        for (i, hops) in self.traces.iter_mut().enumerate() {
            let workload_gave_up = self
                .requests
                .get(i)
                .map(|r| r.scheduled + r.latency)
                .unwrap_or(Duration::MAX);
            crate::trace::work_out_wasted(hops, |h| h, workload_gave_up, false);
        }
    }
}
