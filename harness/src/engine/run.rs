//! The one run loop every backend goes through, from the plan to the record.
//!
//! 1. Check what the file asks of this backend, plan the faults from the
//!    seed, and set up the figures and the workload ([`Collector`], [`Load`]).
//! 2. Bring the backend up ([`Backend::up`]).
//! 3. Until the workload has ended, on the backend's clock: take the spans
//!    that ended each second into the figures; apply every step of the fault
//!    [`Timeline`] that is due, one moment at a time, as the state the faults
//!    in force want ([`FaultState`], [`Backend::reconcile`]); say how far the
//!    run is ([`Progress`]); let time pass ([`Backend::advance`]).
//! 4. End the load and heal ([`Backend::end`]), read the counters and the last
//!    spans, tear down ([`Backend::down`]), and turn what was gathered into a
//!    [`RunRecord`].
//!
//! An interrupted run (Ctrl-C under [`crate::interrupt`]) stops sending and
//! changes no fault from then on; the requests in flight get their answers
//! or reach their deadline, and the record reads like a shorter run.

use std::time::Duration;

use super::backend::{Backend, Load, Setup};
use super::collect::{Answers, Collector};
use super::progress::Progress;
use super::{BackendKind, FaultState, RunError, RunOptions, Timeline};
use crate::fault;
use crate::invariant::Figures;
use crate::record::{AppliedFault, RunRecord};
use crate::scenario::Scenario;
use crate::topology::derive_seed;
use crate::workload::Arrivals;

/// Runs `scenario` on backend `B`.
pub async fn run<B: Backend>(
    kind: BackendKind,
    scenario: &Scenario,
    opts: &RunOptions,
    extra: B::Extra,
) -> Result<RunRecord, RunError> {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let duration = opts.duration.unwrap_or(scenario.duration);
    // The CLI checked both when it loaded the file; a caller of the library
    // may not have.
    crate::scenario::limits::check_requests(scenario.workload.rate, duration)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    kind.check(scenario)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    let plan = B::plan(scenario, seed, duration, &extra);
    let applied: Vec<AppliedFault> = plan.iter().cloned().map(AppliedFault::from).collect();
    let services = fault::instances(scenario);
    let instances: Vec<String> = services.values().flatten().cloned().collect();
    let answers = Answers::new(Collector::new(
        Figures::new(scenario, duration, &applied, &services),
        instances,
        scenario.workload.deadline,
        !opts.figures_only,
    ));
    let load = Load {
        targets: services
            .get(&scenario.workload.target)
            .cloned()
            .unwrap_or_default(),
        path: scenario.workload.path.clone(),
        deadline: scenario.workload.deadline,
        schedule: Arrivals::new(
            scenario.workload.rate,
            scenario.workload.arrival,
            duration,
            derive_seed(seed, 0),
        ),
        answers: answers.clone(),
    };
    let mut backend = B::up(
        Setup {
            scenario,
            opts,
            seed,
            duration,
            plan: &plan,
            load,
        },
        extra,
    )
    .await?;

    let mut faults = FaultState::default();
    let mut timeline = Timeline::new(&plan);
    let mut stopped_at = None;
    let ran = drive(
        &mut backend,
        kind,
        duration,
        &answers,
        &mut faults,
        &mut timeline,
        &mut stopped_at,
        opts,
    )
    .await;
    if let Some(progress) = &opts.progress {
        progress.report(&Progress::LoadEnded);
    }
    let ended = backend.end(ran).await;
    let (received, spans) = match ended {
        Ok(()) => (backend.received().await, backend.spans(true).await),
        Err(_) => Default::default(),
    };
    backend.down(ended).await?;

    let collector = answers
        .into_inner()
        .ok_or_else(|| RunError::Backend("the workload outlived the run".into()))?;
    let collected = collector.finish(spans);
    let (mut applied, mut duration) = (applied, duration);
    if let Some(measured) = stopped_at {
        // The load phase ended when the run stopped; the faults went as far
        // as they got. Windows after the stop have nothing to judge.
        let measured: Duration = Duration::min(measured, duration);
        applied.retain(|f| f.start < measured);
        for f in &mut applied {
            f.end = f.end.filter(|&end| end <= measured);
        }
        duration = measured;
    }
    let mut record = RunRecord {
        backend: kind,
        seed,
        duration,
        requests: collected.requests,
        faults: applied,
        received,
        traces: collected.traces,
        figures: Some(collected.figures),
    };
    record.compute_wasted();
    Ok(record)
}

/// The loop of step 3 (module docs). Sets `stopped_at` (time into the load
/// phase) when the run was interrupted.
#[allow(clippy::too_many_arguments)]
async fn drive<B: Backend>(
    backend: &mut B,
    kind: BackendKind,
    duration: Duration,
    answers: &Answers,
    faults: &mut FaultState,
    timeline: &mut Timeline,
    stopped_at: &mut Option<Duration>,
    opts: &RunOptions,
) -> Result<(), RunError> {
    let progress = opts.progress.as_ref();
    let mut last_shown = 0;
    let mut last_drained = 0;
    loop {
        let now = backend.now();
        if stopped_at.is_none() && crate::interrupt::requested() {
            *stopped_at = Some(backend.load_time(now));
            backend.stop_load();
        }
        // Spans are taken as requests finish, a second at a time, so that
        // the instances hold only those in progress.
        if B::SPANS_AS_THEY_END && now.as_secs() > last_drained {
            last_drained = now.as_secs();
            let spans = backend.spans(false).await;
            answers.lock().drain(spans);
        }
        if stopped_at.is_none() {
            while let Some(step) = timeline.due(now) {
                let restarts = faults.apply(&step);
                backend
                    .reconcile(&faults.desired(), &restarts, step.at)
                    .await?;
            }
        }
        if let Some(progress) = progress {
            if now.as_secs() > last_shown {
                last_shown = now.as_secs();
                progress.report(&Progress::Load {
                    backend: kind,
                    done: Duration::from_secs(last_shown).min(duration),
                    of: duration,
                });
            }
        }
        let next_second = Duration::from_secs(now.as_secs() + 1);
        let until = timeline
            .next_at()
            .filter(|_| stopped_at.is_none())
            .map_or(next_second, |at| at.min(next_second));
        if !backend.advance(until).await? {
            return Ok(());
        }
    }
}
