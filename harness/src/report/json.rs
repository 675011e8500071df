//! `report.json`: the reproducible account of a run.
//!
//! Field order is fixed by these structs, maps are ordered, and every figure
//! comes from simulated time, so in the simulator the same scenario and seed
//! serialise to the same bytes. Figures come from the run's streamed
//! [`Figures`], so building a report reads each figure once.
//!
//! The structs also derive [`JsonSchema`]: the published schema
//! (`docs/schema/report.v1.schema.json`, [`crate::report::schema`]) is generated
//! from them, and their doc comments are its descriptions. Say units here.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::invariant::{Exemplar, Figures, Verdict};
use crate::record::{Outcome, RunRecord};
use crate::report::fmt_duration;
use crate::scenario::Scenario;
use crate::stats::Summary;

/// Version of the report's shape; bumped when a field is removed, renamed or
/// changes type or meaning (docs/schema.md). The schema of each version is
/// `docs/schema/report.v{FORMAT}.schema.json`.
pub const FORMAT: u32 = 1;

/// The reproducible account of one run of one scenario: its figures per phase
/// and per second, every invariant's verdict, the faults, the slowest requests
/// and the first failures.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The version of this file's shape (the `v1` of its schema).
    pub format: u32,
    /// The scenario's `name`.
    pub scenario: String,
    pub description: String,
    /// The scenario file, as given on the command line.
    pub file: String,
    /// Where it ran.
    #[schemars(extend("enum" = ["sim", "docker", "gameday"]))]
    pub backend: &'static str,
    /// The run's seed: `squall run FILE --seed SEED` replays it.
    pub seed: u64,
    /// `pass` when every invariant held.
    #[schemars(extend("enum" = ["pass", "fail"]))]
    pub verdict: &'static str,
    /// What the scenario file says the suite should expect: `fail` for a file
    /// that documents a weakness.
    #[schemars(extend("enum" = ["pass", "fail"]))]
    pub expect: &'static str,
    /// The run was stopped early (Ctrl-C, SIGTERM): the figures cover only
    /// what was measured until then. Written only when true, so a complete
    /// run's report is unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub workload: WorkloadFacts,
    /// Every request the workload sent, warm-up included.
    pub totals: Summary,
    /// `baseline` (before the first fault), `faults` (while any is active) and
    /// `recovery` (after the last heal), after warm-up, in that order.
    #[schemars(extend(
        "propertyNames" = { "enum": ["baseline", "faults", "recovery"] },
        "required" = ["baseline", "faults", "recovery"]
    ))]
    pub phases: IndexMap<&'static str, PhaseFacts>,
    /// One verdict per `[[invariants]]` entry, in file order.
    pub invariants: Vec<Verdict>,
    /// The faults as applied, in file order.
    pub faults: Vec<FaultFacts>,
    /// Per service, in file order: the calls it received.
    pub services: IndexMap<String, ServiceFacts>,
    /// Degraded answers per left-out dependency.
    pub degraded_by: IndexMap<String, u64>,
    /// Endpoint work done, and the part done after its caller stopped waiting.
    pub work: WorkFacts,
    /// The slowest requests after warm-up (at most [`SLOWEST`]), with their traces.
    pub slowest: Vec<TraceFacts>,
    /// Per phase (`baseline`, `faults`, `recovery`, those with a failure, in
    /// that order), the first requests of each failing outcome scheduled in it
    /// (at most 3 each, [`FIRST_FAILURES`], in the order they were sent), with
    /// their traces. Written only when some request after warm-up failed or
    /// was degraded, so a report without failures has no such field.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = { "enum": ["baseline", "faults", "recovery"] }))]
    pub first_failures: IndexMap<&'static str, FailuresFacts>,
    /// One entry per second of the load phase, warm-up included, by the second
    /// the requests were scheduled in.
    pub per_second: Vec<Second>,
}

/// How many of the slowest requests the report traces.
pub const SLOWEST: usize = crate::invariant::SLOWEST;

/// How many requests of each failing outcome per phase the report traces.
pub const FIRST_FAILURES: usize = crate::invariant::FIRST_FAILURES;
// `Report::first_failures`'s doc comment (the schema's description) says 3.
const _: () = assert!(FIRST_FAILURES == 3);

/// One phase's first failures: per failing outcome (`degraded`, `error 502`,
/// `error 503`, `failed`, `timeout`; each status its own, in that order), the
/// first requests that ended so, in the order they were sent.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(
    transparent,
    extend("propertyNames" = { "pattern": r"^(degraded|error [0-9]{3}|failed|timeout)$" })
)]
pub struct FailuresFacts(pub IndexMap<String, Vec<TraceFacts>>);

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkFacts {
    /// Endpoint work done by every instance, in milliseconds.
    pub total_ms: f64,
    /// The part of it done after the caller had stopped waiting, in milliseconds.
    pub wasted_ms: f64,
    /// `wasted_ms / total_ms` (0 when no work was done).
    pub wasted_ratio: f64,
    /// Per service (file order): `{ total_ms, wasted_ms, wasted_ratio }`.
    pub services: IndexMap<String, WorkFigures>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkFigures {
    /// In milliseconds.
    pub total_ms: f64,
    /// In milliseconds.
    pub wasted_ms: f64,
    pub wasted_ratio: f64,
}

impl From<crate::record::Work> for WorkFigures {
    fn from(w: crate::record::Work) -> Self {
        WorkFigures {
            total_ms: crate::stats::ms(w.total),
            wasted_ms: crate::stats::ms(w.wasted),
            wasted_ratio: w.wasted_ratio(),
        }
    }
}

/// One request and everything that served it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TraceFacts {
    /// Its index in the workload: the `x-request-id` it carried.
    pub request: usize,
    /// When the workload scheduled it, since the start of the load phase.
    pub scheduled_ms: f64,
    /// From its scheduled time to its answer (or to the deadline).
    pub latency_ms: f64,
    /// `ok`, `degraded`, `error 502`, `failed`, `timeout`.
    #[schemars(regex(pattern = r"^(ok|degraded|error [0-9]{3}|failed|timeout)$"))]
    pub outcome: String,
    /// Attempts made on its behalf at every hop, retries and hedges included.
    pub attempts: usize,
    pub retries: usize,
    pub hedges: usize,
    pub hops: Vec<HopFacts>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HopFacts {
    /// The instance that served it: `ledger-2`.
    pub instance: String,
    /// The endpoint: `/charge`.
    pub path: String,
    /// The attempt that called it (`gateway-1#12`), absent for the workload's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Since the request's scheduled time.
    pub start_ms: f64,
    /// Since the request's scheduled time.
    pub end_ms: f64,
    /// The endpoint's own work (not its calls), in milliseconds.
    pub work_ms: f64,
    /// Work done after its caller stopped waiting, in milliseconds.
    pub wasted_ms: f64,
    /// `null` when the caller went away first.
    pub status: Option<u16>,
    /// Why it answered as it did, when it is not the work: `injected error`,
    /// `no time left` (its propagated deadline had passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// The calls it made, retries and hedges included.
    pub attempts: Vec<AttemptFacts>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttemptFacts {
    /// Its number on the calling instance (`parent` of the hop it reached is
    /// `<instance>#<id>`).
    pub id: u64,
    /// The service called.
    pub service: String,
    /// The instance it went to; empty when none was tried.
    pub to: String,
    /// 0 for the first attempt, then 1, 2, ...
    pub retry: u32,
    /// A hedged (duplicate) attempt.
    pub hedge: bool,
    /// Since the request's scheduled time.
    pub start_ms: f64,
    /// Since the request's scheduled time.
    pub end_ms: f64,
    /// The HTTP status as text (`200`, `503`), `degraded`, or why it got none:
    /// `timeout`, `cancelled`, `no-time`, ...
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkloadFacts {
    /// The entry service.
    pub target: String,
    /// The entry endpoint.
    pub path: String,
    /// Requests per second.
    pub rate: f64,
    #[schemars(extend("enum" = ["constant", "poisson"]))]
    pub arrival: &'static str,
    /// How long the workload waits for an answer.
    pub deadline_ms: f64,
    /// The load phase, in seconds.
    pub duration_s: f64,
    /// The first part of the load phase that phases and most invariants leave out.
    pub warmup_s: f64,
    /// Requests sent.
    pub offered: u64,
    /// Present when the load driver could not keep the schedule: requests
    /// it sent more than a millisecond after their instant. Their latency
    /// still counts from the instant, but the system was offered a load
    /// other than the file's. Never present for the simulator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind_schedule: Option<BehindFacts>,
}

impl WorkloadFacts {
    /// What to tell a reader when the driver fell behind: `None` if it
    /// kept the schedule.
    pub fn behind_sentence(&self) -> Option<String> {
        let b = self.behind_schedule.as_ref()?;
        Some(format!(
            "The load driver fell behind: {} of {} requests were sent more than {} ms after their \
             scheduled instant (the latest {:.1} ms). Their latency counts from the instant, but \
             the system was offered less steady load than the file asks; a machine with more \
             cores for squall, or a lower rate, keeps the schedule.",
            b.late, self.offered, b.late_after_ms, b.worst_ms
        ))
    }
}

/// How far the load driver fell behind its schedule.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BehindFacts {
    /// Requests sent more than `late_after_ms` after their scheduled instant.
    pub late: u64,
    /// The latest of them, after its instant.
    pub worst_ms: f64,
    pub late_after_ms: f64,
}

/// One phase: when it was, and the figures of the requests scheduled in it
/// (latencies in milliseconds).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PhaseFacts {
    /// `["2s..10s"]`; empty when the phase did not occur.
    pub spans: Vec<String>,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FaultFacts {
    /// Its place in the scenario's `[[faults]]`, from 0.
    pub index: usize,
    #[schemars(extend("enum" = [
        "kill", "restart", "pause", "latency", "loss", "partition", "isolate", "error"
    ]))]
    pub kind: &'static str,
    /// What it does, in words: `latency +150ms (jitter 20ms) on fraud-2`.
    pub detail: String,
    /// Instances, or `a<->b` / `a->b` links, it touches.
    pub targets: Vec<String>,
    /// When it started, in seconds of the load phase.
    pub start_s: f64,
    /// `null` when it lasted to the end.
    pub end_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceFacts {
    /// Calls that reached the service, all instances, whole run.
    pub calls: u64,
    /// Calls per request offered by the workload.
    pub amplification: f64,
    /// Calls per instance.
    pub instances: IndexMap<String, u64>,
}

/// One second of the load phase: the figures of the requests scheduled in it
/// (latencies in milliseconds).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Second {
    /// The second, from 0.
    pub t: u64,
    #[serde(flatten)]
    pub summary: Summary,
}

impl Report {
    /// Builds the report of `record`, judged by `verdicts`.
    pub fn build(scenario: &Scenario, record: &RunRecord, verdicts: Vec<Verdict>) -> Self {
        match &record.figures {
            Some(figures) => Self::of(scenario, record, figures, verdicts),
            None => Self::of(
                scenario,
                record,
                &Figures::of_record(scenario, record),
                verdicts,
            ),
        }
    }

    fn of(
        scenario: &Scenario,
        record: &RunRecord,
        figures: &Figures,
        verdicts: Vec<Verdict>,
    ) -> Self {
        let mut phase_facts = IndexMap::new();
        for (name, window) in PHASES.into_iter().zip(&figures.phase_figures) {
            let spans = window
                .spans
                .iter()
                .map(|(s, e)| format!("{}..{}", fmt_duration(*s), fmt_duration(*e)))
                .collect();
            let summary = window.tally.summary();
            phase_facts.insert(name, PhaseFacts { spans, summary });
        }
        let offered = figures.offered;
        let services = record
            .received
            .iter()
            .map(|(svc, instances)| {
                let calls = instances.values().sum();
                let facts = ServiceFacts {
                    calls,
                    amplification: if offered > 0 {
                        calls as f64 / offered as f64
                    } else {
                        0.0
                    },
                    instances: instances.clone(),
                };
                (svc.clone(), facts)
            })
            .collect();
        let mut degraded_by = figures.degraded_by.clone();
        degraded_by.sort_keys();
        let per_second = figures
            .per_second
            .iter()
            .enumerate()
            .map(|(t, summary)| Second {
                t: t as u64,
                summary: summary.clone(),
            })
            .collect();
        let held = verdicts.iter().all(|v| v.held);
        let all_work = figures.work;
        let work = WorkFacts {
            total_ms: crate::stats::ms(all_work.total),
            wasted_ms: crate::stats::ms(all_work.wasted),
            wasted_ratio: all_work.wasted_ratio(),
            services: record
                .received
                .keys()
                .map(|svc| {
                    let w = figures
                        .work_by_service
                        .get(svc)
                        .copied()
                        .unwrap_or_default();
                    (svc.clone(), w.into())
                })
                .collect(),
        };
        let slowest = figures.slowest.iter().map(trace_facts).collect();
        let mut first_failures: IndexMap<&'static str, FailuresFacts> = IndexMap::new();
        for ((phase, kind), kept) in &figures.failures {
            let Some(name) = PHASES.get(*phase) else {
                continue;
            };
            first_failures
                .entry(name)
                .or_default()
                .0
                .insert(kind.to_string(), kept.iter().map(trace_facts).collect());
        }
        Report {
            format: FORMAT,
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            file: scenario.path.display().to_string(),
            backend: record.backend.as_str(),
            seed: record.seed,
            verdict: if held { "pass" } else { "fail" },
            interrupted: false,
            expect: match scenario.expect {
                crate::scenario::Expect::Pass => "pass",
                crate::scenario::Expect::Fail => "fail",
            },
            workload: WorkloadFacts {
                target: scenario.workload.target.clone(),
                path: scenario.workload.path.clone(),
                rate: scenario.workload.rate,
                arrival: match scenario.workload.arrival {
                    crate::scenario::Arrival::Constant => "constant",
                    crate::scenario::Arrival::Poisson => "poisson",
                },
                deadline_ms: crate::stats::ms(scenario.workload.deadline),
                duration_s: record.duration.as_secs_f64(),
                warmup_s: scenario.workload.warmup.as_secs_f64(),
                offered,
                behind_schedule: (figures.behind.late > 0).then(|| BehindFacts {
                    late: figures.behind.late,
                    worst_ms: crate::stats::ms(figures.behind.worst),
                    late_after_ms: crate::stats::ms(crate::workload::LATE_AFTER),
                }),
            },
            totals: figures.totals.summary(),
            phases: phase_facts,
            invariants: verdicts,
            faults: record
                .faults
                .iter()
                .map(|f| FaultFacts {
                    index: f.index,
                    kind: f.kind.as_str(),
                    detail: f.detail.clone(),
                    targets: f.targets.clone(),
                    start_s: f.start.as_secs_f64(),
                    end_s: f.end.map(|e| e.as_secs_f64()),
                })
                .collect(),
            services,
            degraded_by,
            work,
            slowest,
            first_failures,
            per_second,
        }
    }

    /// Whether every invariant held.
    pub fn held(&self) -> bool {
        self.verdict == "pass"
    }

    /// The pretty-printed JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        // Serialising plain structs, ordered maps and finite floats cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            + "\n"
    }
}

/// The phases of `report.json`, in the order of [`Figures::phase_figures`].
const PHASES: [&str; 3] = ["baseline", "faults", "recovery"];

/// A kept request with its trace, as the report prints it.
fn trace_facts(x: &Exemplar) -> TraceFacts {
    let (i, r) = (x.index, &x.request);
    let hops: Vec<&crate::record::Hop> = x.hops.iter().map(|(_, h)| h).collect();
    let since = |t: std::time::Duration| crate::stats::ms(t) - crate::stats::ms(r.scheduled);
    let attempts = hops.iter().flat_map(|h| &h.attempts);
    TraceFacts {
        request: i,
        scheduled_ms: crate::stats::ms(r.scheduled),
        latency_ms: crate::stats::ms(r.latency),
        outcome: match &r.outcome {
            Outcome::Ok => "ok".into(),
            Outcome::Degraded(_) => "degraded".into(),
            Outcome::Error(status) => format!("error {status}"),
            Outcome::Failed => "failed".into(),
            Outcome::Timeout => "timeout".into(),
        },
        attempts: attempts.clone().filter(|a| !a.to.is_empty()).count(),
        retries: attempts.clone().filter(|a| a.retry > 0).count(),
        hedges: attempts.filter(|a| a.hedge).count(),
        hops: hops
            .iter()
            .map(|h| HopFacts {
                instance: h.instance.to_string(),
                path: h.path.to_string(),
                parent: h.parent.clone(),
                start_ms: since(h.start),
                end_ms: since(h.end),
                work_ms: h
                    .work
                    .map_or(0.0, |(s, e)| crate::stats::ms(e.saturating_sub(s))),
                wasted_ms: crate::stats::ms(h.wasted),
                status: h.status,
                note: h.note,
                attempts: h
                    .attempts
                    .iter()
                    .map(|a| AttemptFacts {
                        id: a.id,
                        service: a.service.to_string(),
                        to: a.to.clone(),
                        retry: a.retry,
                        hedge: a.hedge,
                        start_ms: since(a.start),
                        end_ms: since(a.end),
                        outcome: crate::record::attempt_outcome(a.outcome),
                    })
                    .collect(),
            })
            .collect(),
    }
}
