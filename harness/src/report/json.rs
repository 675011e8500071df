//! `report.json`: the reproducible account of a run.
//!
//! Field order is fixed by these structs, maps are ordered, and every figure
//! comes from simulated time, so in the simulator the same scenario and seed
//! serialise to the same bytes.

use indexmap::IndexMap;
use serde::Serialize;

use crate::invariant::{Phases, Verdict};
use crate::record::{Outcome, RunRecord};
use crate::report::fmt_duration;
use crate::scenario::{Scenario, Window};
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
    pub workload: WorkloadFacts,
    pub totals: Summary,
    pub phases: IndexMap<&'static str, PhaseFacts>,
    pub invariants: Vec<Verdict>,
    pub faults: Vec<FaultFacts>,
    pub services: IndexMap<String, ServiceFacts>,
    /// Degraded answers per left-out dependency.
    pub degraded_by: IndexMap<String, u64>,
    pub per_second: Vec<Second>,
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
        let phases = Phases::of(record, scenario.workload.warmup, scenario.workload.deadline);
        let mut phase_facts = IndexMap::new();
        for (name, window) in [
            ("baseline", Window::Baseline),
            ("faults", Window::Faults),
            ("recovery", Window::Recovery),
        ] {
            let spans = phases.spans(&window);
            let summary = Summary::of(
                record
                    .requests
                    .iter()
                    .filter(|r| crate::invariant::within(&spans, r.scheduled)),
            );
            let spans = spans
                .iter()
                .map(|(s, e)| format!("{}..{}", fmt_duration(*s), fmt_duration(*e)))
                .collect();
            phase_facts.insert(name, PhaseFacts { spans, summary });
        }
        let offered = record.requests.len() as u64;
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
        let mut degraded_by: IndexMap<String, u64> = IndexMap::new();
        for r in &record.requests {
            if let Outcome::Degraded(names) = &r.outcome {
                for n in names {
                    *degraded_by.entry(n.clone()).or_default() += 1;
                }
            }
        }
        degraded_by.sort_keys();
        let seconds = record.duration.as_secs() + u64::from(record.duration.subsec_nanos() > 0);
        let per_second = (0..seconds)
            .map(|t| Second {
                t,
                summary: Summary::of(
                    record
                        .requests
                        .iter()
                        .filter(|r| r.scheduled.as_secs() == t),
                ),
            })
            .collect();
        let held = verdicts.iter().all(|v| v.held);
        Report {
            format: FORMAT,
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            file: scenario.path.display().to_string(),
            backend: record.backend,
            seed: record.seed,
            verdict: if held { "pass" } else { "fail" },
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
            totals: Summary::of(
                record
                    .requests
                    .iter()
                    .filter(|r| r.scheduled >= scenario.workload.warmup),
            ),
            phases: phase_facts,
            invariants: verdicts,
            faults: record
                .faults
                .iter()
                .map(|f| FaultFacts {
                    index: f.index,
                    kind: f.kind,
                    detail: f.detail.clone(),
                    targets: f.targets.clone(),
                    start_s: f.start.as_secs_f64(),
                    end_s: f.end.map(|e| e.as_secs_f64()),
                })
                .collect(),
            services,
            degraded_by,
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
