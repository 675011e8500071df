//! Game days: faults against a system squall did not start, with rails that
//! keep a shared staging system safe.
//!
//! The file is a scenario with a `[gameday]` section
//! ([`crate::scenario::gameday`]). squall finds the containers by compose
//! labels ([`discover`]), touches only those with **two keys** (their own
//! `squall.target=true` and the file's `allow`), never a protected one, and
//! makes a [`plan`] whose hash the run checks again before it starts. The
//! run is the same run core as `squall run` on a third backend
//! ([`attach`]): the workload, the invariants and the report are the same;
//! each injection is re-checked at its moment, the limits are counted live,
//! and every decision goes to a hash-chained [`audit`] log. The [`halt`]
//! lever on the engine stops every game day from any terminal.
//!
//! What outlives squall: network faults sit behind the kernel lease
//! ([`crate::docker::lease`]) and lift by themselves; a pause or a stop
//! stays until `squall heal` (which reads the journal and undoes it).
//! docs/gameday.md is the walkthrough.

pub mod attach;
pub mod audit;
pub mod discover;
pub mod halt;
pub mod plan;

use std::sync::Arc;

use crate::docker::abort::Armed;
use crate::engine::{self as core, BackendKind, RunError, RunOptions};
use crate::record::RunRecord;

/// Runs a planned game day on the run core, healing on every ending.
pub fn run(opts: &RunOptions, extra: attach::Extra) -> Result<RunRecord, RunError> {
    let armed: Arc<Armed> = extra.armed.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Backend(format!("cannot start the tokio runtime: {e}")))?;
    let scenario = extra.planned.scenario.clone();
    let result = runtime.block_on(core::run::<attach::Attached>(
        BackendKind::Gameday,
        &scenario,
        opts,
        extra,
    ));
    drop(runtime);
    drop(armed);
    result
}
