//! One scenario, from the file to its written reports: the path `squall run`
//! and `squall suite` share, so a suite's run is the run a developer replays.
//!
//! Two steps, because `squall run` prints the verdicts between them (a run
//! whose reports cannot be written still shows what it found): [`judge`]
//! runs the scenario on its backend and builds the [`Report`]; [`write`]
//! puts every report file in a directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use squall::engine::{BackendKind, RunError, RunOptions, Shortening};
use squall::report::{self, fmt_duration, hlog, Meta, Report};
use squall::scenario::Scenario;

use super::progress;

/// What one run is asked to do.
pub struct Plan {
    pub backend: BackendKind,
    pub seed: u64,
    /// `--duration`: overrides the scenario's load phase.
    pub duration: Option<Duration>,
}

/// A run, judged, before its reports are written.
pub struct Judged {
    pub report: Report,
    /// The load phase as run (shorter when interrupted).
    pub load: Duration,
    pub wall: Duration,
    started: SystemTime,
    intervals: hlog::Intervals,
}

/// Where [`write`] puts a run's reports.
pub enum Dest<'a> {
    /// `BASE/<scenario>/<stamp>-seed<seed>/` (`-2`, `-3`... when taken), as
    /// `squall run` does.
    Under(&'a Path),
    /// Exactly this directory (a suite names its runs itself).
    At(PathBuf),
}

/// Runs `scenario` as `plan` says and judges it.
pub fn judge(
    scenario: &Scenario,
    plan: &Plan,
    shortening: Option<&Shortening>,
) -> Result<Judged, RunError> {
    judge_with(scenario, plan, shortening, |opts| match plan.backend {
        BackendKind::Sim => squall::sim::run(scenario, opts),
        BackendKind::Docker => squall::docker::run(scenario, opts),
        BackendKind::Gameday => Err(RunError::Unsupported(
            "a game day runs through `squall gameday run`".to_owned(),
        )),
    })
}

/// [`judge`], with the run made by `run` (a game day attaches its own way).
pub fn judge_with(
    scenario: &Scenario,
    plan: &Plan,
    shortening: Option<&Shortening>,
    run: impl FnOnce(&RunOptions) -> Result<squall::record::RunRecord, RunError>,
) -> Result<Judged, RunError> {
    let opts = RunOptions {
        seed: Some(plan.seed),
        duration: plan.duration,
        out: None,
        progress: Some(progress::reporter()),
        figures_only: true,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let record = run(&opts)?;
    let mut verdicts = squall::invariant::evaluate(scenario, &record);
    let interrupted = plan.backend == BackendKind::Sim && squall::interrupt::requested();
    let cause = if interrupted {
        Some(format!(
            "(hint: the run was interrupted after {} of load, before this could be judged)",
            fmt_duration(record.duration)
        ))
    } else {
        shortening.map(Shortening::hint)
    };
    if let Some(hint) = &cause {
        // A verdict with nothing to judge on a shortened or interrupted run:
        // that is the cause, and its hint replaces any other.
        // (Not wasted work: spans that were not read back are not a matter of length.)
        let cut = |v: &squall::invariant::Verdict| {
            !v.held && v.observed.is_none() && v.kind != squall::invariant::VerdictKind::WastedWork
        };
        for v in verdicts.iter_mut().filter(|v| cut(v)) {
            let message = match v.message.find(" (hint: ") {
                Some(i) => &v.message[..i],
                None => &v.message,
            };
            v.message = format!("{message} {hint}");
        }
    }
    let mut report = Report::build(scenario, &record, verdicts);
    report.interrupted = interrupted;
    // A simulated run has no wall-clock start, and a fixed one keeps its hlog
    // reproducible; a Docker run's log starts when the run did.
    let epoch = if record.backend == BackendKind::Sim {
        hlog::SIM_EPOCH_S
    } else {
        started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(hlog::SIM_EPOCH_S, |d| d.as_secs())
    };
    Ok(Judged {
        intervals: hlog::Intervals::of(&record, epoch),
        report,
        load: record.duration,
        wall: clock.elapsed(),
        started,
    })
}

/// Writes every report file of `judged` and returns its directory.
pub fn write(judged: &Judged, dest: Dest<'_>) -> Result<PathBuf, RunError> {
    let (stamp, rfc3339) = report::utc_stamp(judged.started);
    let dir = match dest {
        Dest::Under(base) => unique_dir(
            &base
                .join(&judged.report.scenario)
                .join(format!("{stamp}-seed{}", judged.report.seed)),
        ),
        Dest::At(dir) => dir,
    };
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let meta = Meta::new(
        &dir,
        rfc3339,
        judged.wall.as_secs_f64(),
        host,
        judged.report.interrupted,
    );
    report::write_all(&dir, &judged.report, &meta, &judged.intervals).map_err(|e| {
        RunError::Backend(format!("cannot write reports to {}: {e}", dir.display()))
    })?;
    Ok(dir)
}

/// `dir`, or `dir-2`, `dir-3`... if a run in the same second already used it.
pub fn unique_dir(dir: &Path) -> PathBuf {
    if !dir.exists() {
        return dir.to_path_buf();
    }
    (2..)
        .map(|n| PathBuf::from(format!("{}-{n}", dir.display())))
        .find(|d| !d.exists())
        .unwrap_or_else(|| dir.to_path_buf())
}
