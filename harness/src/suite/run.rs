//! One run of one scenario in a suite: how it ended, each invariant's
//! verdict, and the key figures the index and the history keep.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::report::Report;

/// The figures a suite shows and keeps for each run: the ones a person
/// compares night to night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyFigures {
    /// Answered ok or degraded, of every request after warm-up.
    pub success: f64,
    /// p99 of every request after warm-up, in milliseconds.
    pub p99_ms: f64,
    /// p99 per phase that occurred (`baseline`, `faults`, `recovery`), in ms.
    pub phase_p99_ms: IndexMap<String, f64>,
    /// The most calls per offered request any service received, and which.
    pub amplification: Option<(String, f64)>,
    /// Endpoint work done after its caller stopped waiting, of all work.
    pub wasted: f64,
}

impl KeyFigures {
    pub fn of(r: &Report) -> Self {
        KeyFigures {
            success: r.totals.success_ratio(true),
            p99_ms: r.totals.p99_ms,
            phase_p99_ms: r
                .phases
                .iter()
                .filter(|(_, p)| !p.spans.is_empty())
                .map(|(name, p)| (name.to_string(), p.summary.p99_ms))
                .collect(),
            amplification: r
                .services
                .iter()
                .max_by(|a, b| a.1.amplification.total_cmp(&b.1.amplification))
                .map(|(name, s)| (name.clone(), s.amplification)),
            wasted: r.work.wasted_ratio,
        }
    }
}

/// One run of one scenario in a suite.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub seed: u64,
    /// Its report directory, relative to the suite's (`card-auth/1-seed1`).
    pub dir: String,
    pub outcome: RunOutcome,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// It ran and was judged.
    Judged {
        /// Every invariant held.
        held: bool,
        /// At least one invariant failed on a figure it measured (not for
        /// want of anything to judge, as on a shortened run).
        judged_failure: bool,
        interrupted: bool,
        /// Each invariant's verdict, in file order.
        invariants: Vec<Checked>,
        figures: KeyFigures,
    },
    /// It could not run; `code` is the exit code that says why.
    Error { message: String, code: i32 },
}

impl Run {
    /// The run that wrote `report` into `dir`.
    pub fn judged(report: &Report, dir: String) -> Self {
        Run {
            seed: report.seed,
            dir,
            outcome: RunOutcome::Judged {
                held: report.held(),
                judged_failure: report
                    .invariants
                    .iter()
                    .any(|v| !v.held && v.observed.is_some()),
                interrupted: report.interrupted,
                invariants: report
                    .invariants
                    .iter()
                    .map(|v| Checked {
                        label: v.label.clone(),
                        during: v.during.clone(),
                        held: v.held,
                        message: v.message.clone(),
                    })
                    .collect(),
                figures: KeyFigures::of(report),
            },
        }
    }

    /// A run that could not happen.
    pub fn error(seed: u64, dir: String, message: String, code: i32) -> Self {
        Run {
            seed,
            dir,
            outcome: RunOutcome::Error { message, code },
        }
    }

    pub fn figures(&self) -> Option<&KeyFigures> {
        match &self.outcome {
            RunOutcome::Judged { figures, .. } => Some(figures),
            RunOutcome::Error { .. } => None,
        }
    }
}

/// One invariant's verdict in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub label: String,
    /// The window judged: `all`, `faults`, `20s..40s`.
    pub during: String,
    pub held: bool,
    pub message: String,
}
