//! What an exploration leaves behind: `explore.json` under
//! `reports/<scenario>/explore-<stamp>-seed<seed>/`.
//!
//! [`ExploreReport`] derives [`JsonSchema`]: `docs/schema/explore.v2.schema.json`
//! is generated from it ([`crate::report::schema`]), doc comments included.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use super::worker::{CaseResult, FailedInvariant};
use crate::scenario::InvariantId;

/// Version of `explore.json`'s shape, in its `format` field; bumped when a
/// field is removed, renamed or changes type or meaning (docs/schema.md).
/// Format 2: a failed invariant is `{ "invariant": <index>, "label": ... }`
/// instead of its label, and a run's error has a field of its own.
pub const FORMAT: u32 = 2;

/// The whole exploration, as `explore.json`. Unlike `report.json` it holds
/// wall-clock figures (`wall_seconds`, `cases_per_minute`), so two runs with
/// the same seed differ in those.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExploreReport {
    /// The version of this file's shape (the `v2` of its schema).
    pub format: u32,
    /// The scenario's `name`.
    pub scenario: String,
    /// The scenario file, as given on the command line.
    pub path: String,
    /// The exploration's seed: every case's schedule and run seed come from it.
    pub seed: u64,
    /// Load phase of every case: `10s`.
    pub duration: String,
    /// `--cases`.
    pub cases_requested: u64,
    /// `I/N` when the cases were sharded.
    pub shard: Option<String>,
    /// Worker processes.
    pub jobs: usize,
    pub cases_run: usize,
    /// Cases that failed an invariant.
    pub failures: usize,
    /// Wall time of running the cases (shrinking excluded).
    pub wall_seconds: f64,
    /// Cases run per minute of `wall_seconds`.
    pub cases_per_minute: f64,
    /// Every case run, in case order, with the kinds it enabled, its faults
    /// and what it failed.
    pub cases: Vec<CaseResult>,
    pub failure: Option<FailureReport>,
}

/// The first failing case, shrunk.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailureReport {
    pub case: u64,
    pub run_seed: u64,
    /// What the case failed as drawn.
    pub failed: Vec<FailedInvariant>,
    /// Why its run failed, when it did.
    pub error: Option<String>,
    /// The invariant shrinking kept failing (the case's first); `null` when
    /// it was the run itself that failed.
    pub target: Option<InvariantId>,
    /// Its explored faults as drawn.
    pub schedule: Vec<String>,
    /// The shrunk explored faults.
    pub shrunk: Vec<String>,
    /// What the shrunk schedule fails.
    pub shrunk_failed: Vec<FailedInvariant>,
    /// Why the shrunk schedule's run failed, when it did.
    pub shrunk_error: Option<String>,
    pub shrink_runs: usize,
    /// False when shrinking ran out of budget before proptest was done (the
    /// schedule is one-minimal all the same).
    pub shrink_complete: bool,
    /// The regression file written.
    pub regression: Option<String>,
    /// Whether running the written file failed the same invariant (by
    /// `target`, not by label).
    pub verified: bool,
}

impl ExploreReport {
    /// Writes `explore.json` into a new directory under `base` and returns it.
    pub fn write(&self, base: &Path, stamp: &str) -> std::io::Result<PathBuf> {
        let dir = base
            .join(&self.scenario)
            .join(format!("explore-{stamp}-seed{}", self.seed));
        let dir = if dir.exists() {
            (2..)
                .map(|n| PathBuf::from(format!("{}-{n}", dir.display())))
                .find(|d| !d.exists())
                .unwrap_or(dir)
        } else {
            dir
        };
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("explore.json"), json + "\n")?;
        Ok(dir)
    }
}
