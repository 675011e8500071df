//! One scenario on the engine, from the first container to the last removal:
//! the [`Backend`] Docker is, run by the run core ([`core::run`]).
//!
//! The order: reach the engine, check the images, open the journal, create
//! the topology, then (the core's loop) run the workload and the fault
//! schedule side by side on real time, heal every fault, read the instances'
//! counters and spans, and remove everything.
//! Ctrl-C and SIGTERM stop the load phase and still heal; so does a container
//! removed from outside ([`super::watch`]); a panic or an early return is
//! healed by the run's labels ([`super::abort`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use squall_fixture::Drained;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::abort::Armed;
use super::image::FIXTURE_IMAGE;
use super::journal::Journal;
use super::session::{Actuation, InstanceSpec, Session};
use super::{call, connect, image, journal, watch};
use crate::engine::backend::{Received, Setup, Spans};
use crate::engine::load;
use crate::engine::{self as core, Backend, BackendKind, Desired, Progress, RunError, RunOptions};
use crate::fault::{self, Effect, PlannedFault};
use crate::record::RunRecord;
use crate::scenario::{Scenario, Service};
use crate::topology::{derive_seed, instance_configs};

/// Time between the end of setup and the first scheduled request.
const LEAD: Duration = Duration::from_millis(200);

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
    actuations: impl FnOnce(&[Actuation]) + Send + 'static,
) -> Result<RunRecord, RunError> {
    // Dropped after the runtime, so a panic unwinding out of `block_on`
    // heals once every task of the run has stopped.
    let armed = Arc::new(Armed::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Backend(format!("cannot start the tokio runtime: {e}")))?;
    let extra = Extra {
        armed: armed.clone(),
        actuations: Box::new(actuations),
    };
    let result = runtime.block_on(core::run::<Engine>(
        BackendKind::Docker,
        scenario,
        opts,
        extra,
    ));
    drop(runtime);
    drop(armed);
    result
}

/// Told of a run's fault actuations before its teardown (the benchmark).
pub type OnActuations = Box<dyn FnOnce(&[Actuation]) + Send>;

/// What a Docker run needs beyond the scenario.
pub struct Extra {
    /// Heals the run by its labels if it ends without tearing down.
    armed: Arc<Armed>,
    /// Told of every fault actuation before teardown.
    actuations: OnActuations,
}

/// A run's topology on the engine: the [`Backend`] Docker is.
pub struct Engine {
    session: Session,
    run: String,
    extra: Extra,
    /// The load phase's first instant.
    start: Instant,
    driver: JoinHandle<std::io::Result<()>>,
    /// How long the driver's senders take to end once stopped: the
    /// requests in flight reach their deadline, and a second more.
    drain: Duration,
    stop: Arc<AtomicBool>,
    /// Ctrl-C, SIGTERM or a container removed from outside, as the error
    /// that ends the run.
    interrupted: oneshot::Receiver<RunError>,
    watcher: JoinHandle<()>,
    /// Every instance's position in topology order.
    positions: HashMap<String, usize>,
    containers: Vec<String>,
    /// Instances whose nft rules were deleted without the engine.
    cleared: Vec<String>,
}

impl Backend for Engine {
    type Extra = Extra;

    async fn up(setup: Setup<'_>, extra: Extra) -> Result<Self, RunError> {
        let Setup {
            scenario,
            opts,
            seed,
            plan,
            load,
            ..
        } = setup;
        let specs = specs(scenario, seed)?;
        let (docker, _) = connect().await?;
        let images: BTreeSet<&String> = specs.iter().map(|s| &s.image).collect();
        for i in images {
            image::ensure(&docker, i, |workspace| {
                if let Some(progress) = &opts.progress {
                    progress.report(&Progress::BuildingImage {
                        image: i.clone(),
                        workspace: workspace.to_owned(),
                    });
                }
            })
            .await?;
        }
        let (links, http) = intercepted(scenario, plan);
        let run = new_run_id();
        let journal = Journal::create(&run).map_err(|e| {
            RunError::Backend(format!(
                "cannot write the journal in {}: {e}",
                super::journal::dir().display()
            ))
        })?;
        extra.armed.arm(&run);
        if let Some(progress) = &opts.progress {
            progress.report(&Progress::DockerRun {
                run: run.clone(),
                journal: journal.path().to_owned(),
            });
        }
        let created = tokio::select! {
            s = Session::create(docker, &run, journal, specs, links, http) => s,
            sig = signalled() => return Err(RunError::Aborted(format!("{sig} during setup; the run was healed"))),
        };
        // What the setup created is in the journal; say what is left.
        let session = created.map_err(|e| wedged(&run, &[]).unwrap_or_else(|| e.into()))?;

        let authorities = load
            .targets
            .iter()
            .filter_map(|i| session.authority(i))
            .collect();
        let start = Instant::now() + LEAD;
        let stop = Arc::new(AtomicBool::new(false));
        let driver = tokio::spawn(load::real_time(
            load,
            authorities,
            start,
            stop.clone(),
            load::default_threads(),
        ));
        let (tell, interrupted) = oneshot::channel();
        let (docker, id) = (session.docker.clone(), run.clone());
        let watcher = tokio::spawn(async move {
            let error = tokio::select! {
                sig = signalled() => RunError::Aborted(format!("{sig} during the run; every fault was healed")),
                gone = watch::vanished(&docker, &id) => gone.into(),
            };
            let _ = tell.send(error);
        });
        let positions = fault::instances(scenario)
            .into_values()
            .flatten()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        let containers = session
            .instances
            .values()
            .map(|i| i.container.clone())
            .collect();
        // The plan is on the load phase's clock: nothing is due before it.
        tokio::time::sleep_until(start).await;
        Ok(Engine {
            session,
            run,
            extra,
            start,
            driver,
            drain: scenario.workload.deadline + Duration::from_secs(2),
            stop,
            interrupted,
            watcher,
            positions,
            containers,
            cleared: Vec::new(),
        })
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    async fn advance(&mut self, until: Duration) -> Result<bool, RunError> {
        tokio::select! {
            () = tokio::time::sleep_until(self.start + until) => Ok(true),
            done = &mut self.driver => match done {
                Ok(Ok(())) => Ok(false),
                Ok(Err(e)) => Err(RunError::Backend(format!("cannot start the workload's senders: {e}"))),
                Err(e) => Err(RunError::Backend(format!("the workload driver failed: {e}"))),
            },
            e = &mut self.interrupted => Err(stopped(e)),
        }
    }

    async fn reconcile(
        &mut self,
        want: &Desired,
        restarts: &[String],
        at: Duration,
    ) -> Result<(), RunError> {
        super::abort::stand_still_while_healing().await;
        tokio::select! {
            r = self.session.reconcile(want, restarts, self.start + at) => r?,
            e = &mut self.interrupted => return Err(stopped(e)),
        }
        // Test builds only (see `abort`): panic here, or in a task of its own,
        // with the fault just applied.
        fail::fail_point!(super::abort::FAIL_AFTER_FAULT);
        if fail::has_failpoints() {
            drop(tokio::spawn(async {
                fail::fail_point!(super::abort::FAIL_TASK_AFTER_FAULT);
            }));
        }
        Ok(())
    }

    fn stop_load(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The instances' spans are read once, at the end (and from each life
    /// before its kill): a fixture keeps them until asked.
    const SPANS_AS_THEY_END: bool = false;

    async fn spans(&mut self, all: bool) -> Vec<Spans> {
        if !all {
            return Vec::new();
        }
        let start = self.start;
        let mut out = Vec::new();
        for mut life in self.session.spans().await {
            let Some(&instance) = self.positions.get(&life.instance) else {
                continue;
            };
            let spans = std::mem::take(&mut life.spans);
            out.push(Spans {
                instance,
                drained: Drained {
                    spans: (0..).zip(spans).collect(),
                    busy: Vec::new(),
                },
                on_load: Box::new(move |t| life.since(t, start)),
            });
        }
        out
    }

    async fn received(&mut self) -> Received {
        self.session.received().await
    }

    async fn end(&mut self, ran: Result<(), RunError>) -> Result<(), RunError> {
        // The senders are threads of their own: stop them and let their
        // requests end, so that nothing still writes to the figures.
        self.stop.store(true, Ordering::Relaxed);
        if !self.driver.is_finished() {
            let _ = tokio::time::timeout(self.drain, &mut self.driver).await;
        }
        self.driver.abort();
        self.watcher.abort();
        super::abort::stand_still_while_healing().await;
        let docker = self.session.docker.clone();
        // A container removed from outside surfaces as whatever touched it first
        // (the event, a 404, nft finding no process): name it, whichever it was.
        let outcome = match ran {
            Err(RunError::Aborted(m)) => Err(RunError::Aborted(m)),
            other => match watch::missing(&docker, &self.run, &self.containers).await {
                Some(gone) => Err(RunError::Backend(format!(
                    "{gone}; the run stopped, healed its faults and removed the rest"
                ))),
                // A container stopped under squall's feet makes every verdict
                // about the topology the scenario describes meaningless.
                None => match self.session.stopped_from_outside().await {
                    Some(stopped) => Err(RunError::Backend(format!(
                        "{stopped}\nthe run healed its faults and removed the rest; its verdicts are not reported"
                    ))),
                    None => other,
                },
            },
        };
        // Whatever happened: heal.
        let healed = self.session.heal_all().await;
        // An engine that stopped answering cannot undo pauses or remove
        // containers; what lives in the containers' namespaces and in this
        // process can still go.
        if call::not_answering().is_some() {
            self.cleared = self.session.heal_without_engine().await;
        }
        outcome?;
        healed.map_err(RunError::from)
    }

    async fn down(self, ended: Result<(), RunError>) -> Result<(), RunError> {
        let Engine {
            session,
            run,
            extra,
            cleared,
            ..
        } = self;
        (extra.actuations)(&session.actuations);
        let removed = session.teardown().await;
        if removed.is_ok() {
            // Every container and the network are gone, and with the containers
            // their pauses and nft tables: nothing is left to heal.
            extra.armed.disarm();
        }
        // An engine that stopped answering is what every other failure came from.
        if let Some(e) = wedged(&run, &cleared) {
            return Err(e);
        }
        ended?;
        removed.map_err(RunError::from)
    }
}

/// The error an interruption ends the run with.
fn stopped(told: Result<RunError, oneshot::error::RecvError>) -> RunError {
    told.unwrap_or_else(|_| RunError::Backend("the run's watch on the engine ended".into()))
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

/// The image `service` runs when it is not squall's fixture (so it may
/// serve no `/squall/` admin endpoints).
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
            compose: svc.docker.compose.clone(),
            config,
        });
    }
    Ok(out)
}

/// Links whose traffic must go through the proxy: every link any latency
/// fault of the plan touches, and every link into an instance of an image
/// of your own that an `error` fault targets (from the workload and every
/// other instance); and those instances, whose proxy reads HTTP and injects
/// the errors ([`super::proxy::http`]).
pub fn intercepted(
    scenario: &Scenario,
    plan: &[PlannedFault],
) -> (Vec<(String, String)>, BTreeSet<String>) {
    let mut links: BTreeSet<(String, String)> = BTreeSet::new();
    let mut http = BTreeSet::new();
    let instances = fault::instances(scenario);
    let all: Vec<&String> = instances.values().flatten().collect();
    for effect in plan.iter().flat_map(|f| &f.effects) {
        match effect {
            Effect::Delay { a, b, .. } => {
                links.insert((a.clone(), b.clone()));
            }
            Effect::Error { instance, .. } => {
                let Some((service, _)) = instances.iter().find(|(_, i)| i.contains(instance))
                else {
                    continue;
                };
                if own_image(scenario, &scenario.services[service]).is_none() {
                    continue;
                }
                http.insert(instance.clone());
                links.insert((fault::WORKLOAD_HOST.to_owned(), instance.clone()));
                for other in all.iter().filter(|o| *o != &instance) {
                    links.insert(((*other).clone(), instance.clone()));
                }
            }
            _ => {}
        }
    }
    (links.into_iter().collect(), http)
}

pub(crate) async fn signalled() -> &'static str {
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
