//! One scenario on the engine, from the first container to the last removal.
//!
//! The order: reach the engine, check the images, plan, open the journal,
//! create the topology, then run the workload and the fault schedule side by
//! side on real time, heal every fault, read the instances' counters and
//! spans (joined into traces as in the simulator), and remove everything.
//! Ctrl-C and SIGTERM stop the load phase and still heal; so does a container
//! removed from outside ([`super::watch`]); a panic or an early return is
//! healed by the run's labels ([`super::abort`]).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use super::abort::Armed;
use super::image::FIXTURE_IMAGE;
use super::journal::Journal;
use super::session::{InstanceSpec, Session};
use super::{call, connect, image, journal, watch, DockerError};
use crate::engine::{Backend, RunError, RunOptions, Timeline};
use crate::fault::{self, Effect, PlannedFault};
use crate::record::{AppliedFault, RunRecord};
use crate::scenario::{Scenario, Service};
use crate::topology::{derive_seed, instance_configs};
use crate::trace::Traces;
use crate::workload::arrivals;

/// Time between the end of setup and the first scheduled request.
const LEAD: Duration = Duration::from_millis(200);

/// How often a Docker run says how far its load phase is (real time, so a
/// plain line suits a terminal and a CI log alike).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Prints `Running  10s of 60s of load` every [`PROGRESS_EVERY`] from `start`
/// until aborted.
async fn progress_lines(start: Instant, duration: Duration) {
    let mut every = tokio::time::interval_at(start + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        let now = every.tick().await;
        let done = now.saturating_duration_since(start).min(duration);
        eprintln!(
            "{:>12}  {}s of {}s of load",
            "Running",
            done.as_secs(),
            duration.as_secs()
        );
    }
}

/// A run id: short, unique enough on one engine, usable in container names
/// and nft table names (`[a-z0-9]`).
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = derive_seed(nanos, u64::from(std::process::id()));
    format!("r{:08x}", mixed as u32)
}

/// Runs `scenario` on the Docker engine (`DOCKER_HOST` honoured).
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    run_with(scenario, opts, |_| {})
}

/// [`run`], handing the session's fault actuations (scheduled, confirmed) to
/// `actuations` before teardown (for the benchmark).
pub fn run_with(
    scenario: &Scenario,
    opts: &RunOptions,
    actuations: impl FnOnce(&[super::session::Actuation]),
) -> Result<RunRecord, RunError> {
    // Dropped after the runtime, so a panic unwinding out of `block_on`
    // heals once every task of the run has stopped.
    let armed = Armed::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Backend(format!("cannot start the tokio runtime: {e}")))?;
    let result = runtime.block_on(run_async(scenario, opts, &armed, actuations));
    drop(runtime);
    drop(armed);
    result
}

/// The image `service` runs: its own `[services.X.docker] image`, else
/// `[docker] image`, else squall's fixture.
pub fn image_of<'a>(scenario: &'a Scenario, service: &'a Service) -> &'a str {
    service
        .docker
        .image
        .as_deref()
        .or(scenario.docker.image.as_deref())
        .unwrap_or(FIXTURE_IMAGE)
}

/// The image `service` runs when it is not squall's fixture (so it serves
/// no `/squall/` admin endpoints).
pub fn own_image<'a>(scenario: &'a Scenario, service: &'a Service) -> Option<&'a str> {
    Some(image_of(scenario, service)).filter(|i| *i != FIXTURE_IMAGE)
}

/// The instances' specs: image and port from `[docker]` and
/// `[services.X.docker]`, else the fixture's.
pub fn specs(scenario: &Scenario, seed: u64) -> Result<Vec<InstanceSpec>, RunError> {
    let mut out = Vec::new();
    for config in instance_configs(scenario, seed)? {
        let svc = &scenario.services[&config.service];
        out.push(InstanceSpec {
            instance: config.instance.clone(),
            service: config.service.clone(),
            image: image_of(scenario, svc).to_owned(),
            port: svc.docker.port.unwrap_or(crate::topology::PORT),
            config,
        });
    }
    Ok(out)
}

/// Links whose traffic must go through the latency proxy: every link any
/// latency fault of the plan touches.
pub fn intercepted(plan: &[PlannedFault]) -> Vec<(String, String)> {
    let set: BTreeSet<(String, String)> = plan
        .iter()
        .flat_map(|f| &f.effects)
        .filter_map(|e| match e {
            Effect::Delay { a, b, .. } => Some((a.clone(), b.clone())),
            _ => None,
        })
        .collect();
    set.into_iter().collect()
}

async fn signalled() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

async fn run_async(
    scenario: &Scenario,
    opts: &RunOptions,
    armed: &Armed,
    actuations: impl FnOnce(&[super::session::Actuation]),
) -> Result<RunRecord, RunError> {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let duration = opts.duration.unwrap_or(scenario.duration);
    // `--duration` was checked by the CLI; a caller of the library may pass anything.
    crate::scenario::limits::check_requests(scenario.workload.rate, duration)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    // The CLI checked this when it loaded the file; a caller of the library
    // may not have.
    Backend::Docker
        .check(scenario)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    let specs = specs(scenario, seed)?;
    let plan = fault::plan(scenario, seed, duration);
    let (docker, _) = connect().await?;
    let images: BTreeSet<&String> = specs.iter().map(|s| &s.image).collect();
    for i in images {
        image::ensure(&docker, i).await?;
    }

    let run = new_run_id();
    let journal = Journal::create(&run).map_err(|e| {
        RunError::Backend(format!(
            "cannot write the journal in {}: {e}",
            super::journal::dir().display()
        ))
    })?;
    armed.arm(&run);
    if opts.progress {
        eprintln!(
            "{:>12}  run {run} (journal {})",
            "Docker",
            journal.path().display()
        );
    }
    let created = tokio::select! {
        s = Session::create(docker, &run, journal, specs, intercepted(&plan)) => s,
        sig = signalled() => return Err(RunError::Aborted(format!("{sig} during setup; the run was healed"))),
    };
    let mut session = match created {
        Ok(session) => session,
        // What the setup created is in the journal; say what is left.
        Err(e) => return Err(wedged(&run, &[]).unwrap_or_else(|| e.into())),
    };

    let targets: Vec<String> = fault::instances(scenario)
        .get(&scenario.workload.target)
        .map(|v| v.iter().filter_map(|i| session.authority(i)).collect())
        .unwrap_or_default();
    let schedule = arrivals(
        scenario.workload.rate,
        scenario.workload.arrival,
        duration,
        derive_seed(seed, 0),
    );
    let start = Instant::now() + LEAD;
    let driver = tokio::spawn(super::driver::drive(
        targets,
        scenario.workload.path.clone(),
        scenario.workload.deadline,
        schedule,
        start,
    ));
    let driver_abort = driver.abort_handle();
    let ticker = opts
        .progress
        .then(|| tokio::spawn(progress_lines(start, duration)));
    let docker = session.docker.clone();
    let containers: Vec<String> = session
        .instances
        .values()
        .map(|i| i.container.clone())
        .collect();
    let phase = async {
        faults(&mut session, &plan, start).await?;
        driver
            .await
            .map_err(|e| DockerError::Engine(format!("the workload driver failed: {e}")))
    };
    let outcome: Result<_, RunError> = tokio::select! {
        r = phase => r.map_err(RunError::from),
        sig = signalled() => Err(RunError::Aborted(format!("{sig} during the run; every fault was healed"))),
        gone = watch::vanished(&docker, &run) => Err(gone.into()),
    };

    driver_abort.abort();
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    super::abort::stand_still_while_healing().await;
    // A container removed from outside surfaces as whatever touched it first
    // (the event, a 404, nft finding no process): name it, whichever it was.
    let outcome = match outcome {
        Err(RunError::Aborted(m)) => Err(RunError::Aborted(m)),
        other => match watch::missing(&docker, &run, &containers).await {
            Some(gone) => Err(RunError::Backend(format!(
                "{gone}; the run stopped, healed its faults and removed the rest"
            ))),
            // A container stopped under squall's feet makes every verdict
            // about the topology the scenario describes meaningless.
            None => match session.stopped_from_outside().await {
                Some(stopped) => Err(RunError::Backend(format!(
                    "{stopped}\nthe run healed its faults and removed the rest; its verdicts are not reported"
                ))),
                None => other,
            },
        },
    };
    // Whatever happened: heal, count, remove.
    let healed = session.heal_all().await;
    // An engine that stopped answering cannot undo pauses or remove
    // containers; what lives in the containers' namespaces and in this
    // process can still go.
    let cleared = if call::not_answering().is_some() {
        session.heal_without_engine().await
    } else {
        Vec::new()
    };
    let received = session.received().await;
    let recorded = if outcome.is_ok() {
        session.spans().await
    } else {
        Vec::new()
    };
    actuations(&session.actuations);
    let removed = session.teardown().await;
    if removed.is_ok() {
        // Every container and the network are gone, and with the containers
        // their pauses and nft tables: nothing is left to heal.
        armed.disarm();
    }
    if let Some(e) = wedged(&run, &cleared) {
        return Err(e);
    }
    let requests = outcome?;
    healed?;
    removed?;
    let mut traces = Traces::new(requests.len());
    for mut life in recorded {
        let spans = std::mem::take(&mut life.spans);
        traces.add(&life.instance, spans, |t| life.since(t, start));
    }
    let mut record = RunRecord {
        backend: Backend::Docker,
        seed,
        duration,
        requests,
        faults: plan.into_iter().map(AppliedFault::from).collect(),
        received,
        traces: traces.finish(),
        figures: None,
    };
    record.compute_wasted();
    Ok(record)
}

/// When the engine stopped answering during run `run`: the error that ends
/// the run (exit 3), naming the call, what the run left on the engine (from
/// its journal), what squall could undo without the engine (`cleared`: the
/// instances whose nft rules it deleted) and what to do.
fn wedged(run: &str, cleared: &[String]) -> Option<RunError> {
    let e = call::not_answering()?;
    let mut text = e.to_string();
    if let Some(found) = journal::list().into_iter().find(|j| j.run == run) {
        let left = found.left();
        if left.is_empty() {
            text.push_str(&format!(
                "\nrun {run} had created nothing on the engine yet"
            ));
        } else {
            text.push_str(&format!(
                "\nleft on the engine by run {run} (journal {}):\n  {}",
                found.path.display(),
                left.join("\n  ")
            ));
        }
    }
    if !cleared.is_empty() {
        text.push_str(&format!(
            "\nsquall deleted its nft rules (partitions, loss, latency redirects) in {} running instance(s): {}",
            cleared.len(),
            cleared.join(", ")
        ));
    }
    text.push_str(&format!(
        "\nwhat to do: restart the engine (`systemctl restart docker`, or however dockerd runs here), then `squall heal --run {run}`"
    ));
    Some(RunError::Backend(text))
}

/// Applies the plan's injections and heals at their scheduled times.
async fn faults(
    session: &mut Session,
    plan: &[PlannedFault],
    start: Instant,
) -> Result<(), DockerError> {
    let mut timeline = Timeline::new(plan);
    while let Some(at) = timeline.next_at() {
        tokio::time::sleep_until(start + at).await;
        let Some(step) = timeline.due(at) else {
            continue;
        };
        super::abort::stand_still_while_healing().await;
        session.apply(&step, start + at).await?;
        // Test builds only (see `abort`): panic here, or in a task of its own,
        // with the fault just applied.
        fail::fail_point!(super::abort::FAIL_AFTER_FAULT);
        if fail::has_failpoints() {
            drop(tokio::spawn(async {
                fail::fail_point!(super::abort::FAIL_TASK_AFTER_FAULT);
            }));
        }
    }
    Ok(())
}
