//! `report.json`: the reproducible account of a run.
//!
//! Field order is fixed by these structs, maps are ordered, and every figure
//! comes from simulated time, so in the simulator the same scenario and seed
//! serialise to the same bytes. Figures come from the run's streamed
//! [`Figures`], so building a report reads each figure once.

use indexmap::IndexMap;
use serde::Serialize;

use crate::invariant::{Figures, Verdict};
use crate::record::{Outcome, RunRecord};
use crate::report::fmt_duration;
use crate::scenario::Scenario;
use crate::stats::Summary;

/// Version of the report's shape; bumped when a field changes meaning.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: u32,
    pub scenario: String,
    pub description: String,
    pub file: String,
    pub backend: &'static str,
    pub seed: u64,
    /// `pass` when every invariant held.
    pub verdict: &'static str,
    /// What the scenario file says the suite should expect.
    pub expect: &'static str,
    /// The run was stopped early (Ctrl-C, SIGTERM): the figures cover only
    /// what was measured until then. Written only when true, so a complete
    /// run's report is unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    pub workload: WorkloadFacts,
    pub totals: Summary,
    pub phases: IndexMap<&'static str, PhaseFacts>,
    pub invariants: Vec<Verdict>,
    pub faults: Vec<FaultFacts>,
    pub services: IndexMap<String, ServiceFacts>,
    /// Degraded answers per left-out dependency.
    pub degraded_by: IndexMap<String, u64>,
    /// Endpoint work done, and the part done after its caller stopped waiting.
    pub work: WorkFacts,
    /// The slowest requests after warm-up (at most [`SLOWEST`]), with their traces.
    pub slowest: Vec<TraceFacts>,
    pub per_second: Vec<Second>,
}

/// How many of the slowest requests the report traces.
pub const SLOWEST: usize = crate::invariant::SLOWEST;

#[derive(Debug, Clone, Serialize)]
pub struct WorkFacts {
    pub total_ms: f64,
    pub wasted_ms: f64,
    pub wasted_ratio: f64,
    /// Per service (file order): `{ total_ms, wasted_ms, wasted_ratio }`.
    pub services: IndexMap<String, WorkFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkFigures {
    pub total_ms: f64,
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
#[derive(Debug, Clone, Serialize)]
pub struct TraceFacts {
    /// Its index in the workload: the `x-request-id` it carried.
    pub request: usize,
    pub scheduled_ms: f64,
    pub latency_ms: f64,
    /// `ok`, `degraded`, `error 502`, `failed`, `timeout`.
    pub outcome: String,
    /// Attempts made on its behalf at every hop, retries and hedges included.
    pub attempts: usize,
    pub retries: usize,
    pub hedges: usize,
    pub hops: Vec<HopFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HopFacts {
    pub instance: String,
    pub path: String,
    /// The attempt that called it (`gateway-1#12`), absent for the workload's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Since the request's scheduled time.
    pub start_ms: f64,
    pub end_ms: f64,
    pub work_ms: f64,
    pub wasted_ms: f64,
    /// `null` when the caller went away first.
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    pub attempts: Vec<AttemptFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptFacts {
    pub id: u64,
    pub service: String,
    pub to: String,
    pub retry: u32,
    pub hedge: bool,
    pub start_ms: f64,
    pub end_ms: f64,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadFacts {
    pub target: String,
    pub path: String,
    pub rate: f64,
    pub arrival: &'static str,
    pub deadline_ms: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub offered: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseFacts {
    /// `["2s..10s"]`; empty when the phase did not occur.
    pub spans: Vec<String>,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultFacts {
    pub index: usize,
    pub kind: &'static str,
    pub detail: String,
    pub targets: Vec<String>,
    pub start_s: f64,
    /// `null` when it lasted to the end.
    pub end_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceFacts {
    /// Calls that reached the service, all instances, whole run.
    pub calls: u64,
    /// Calls per request offered by the workload.
    pub amplification: f64,
    pub instances: IndexMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Second {
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
        for (name, window) in ["baseline", "faults", "recovery"]
            .into_iter()
            .zip(&figures.phase_figures)
        {
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
        let slowest = slowest(figures);
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

/// The [`SLOWEST`] requests scheduled after warm-up, slowest first (ties: the
/// earlier request first), each with its trace.
fn slowest(figures: &Figures) -> Vec<TraceFacts> {
    figures
        .slowest
        .iter()
        .map(|x| {
            let (i, r) = (x.index, &x.request);
            let hops: Vec<&crate::record::Hop> = x.hops.iter().map(|(_, h)| h).collect();
            let since =
                |t: std::time::Duration| crate::stats::ms(t) - crate::stats::ms(r.scheduled);
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
                        instance: h.instance.clone(),
                        path: h.path.clone(),
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
                                service: a.service.clone(),
                                to: a.to.clone(),
                                retry: a.retry,
                                hedge: a.hedge,
                                start_ms: since(a.start),
                                end_ms: since(a.end),
                                outcome: a.outcome.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}
