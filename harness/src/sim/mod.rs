//! The simulator backend: the whole topology inside turmoil, deterministic.
//!
//! Every instance is a turmoil host running the fixture service on turmoil's
//! network; the workload is a turmoil client; faults are applied between
//! simulation steps at their scheduled simulated time ([`network`]). All
//! randomness comes from the run's seed (turmoil's world RNG, per-instance
//! fixture RNGs, the arrival schedule), the clock is turmoil's, and the run is
//! single-threaded, so the same scenario and seed give the same record, byte
//! for byte.

mod network;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use indexmap::IndexMap;
use squall_fixture::{Control, HttpClient};

use crate::engine::backend::{Received, Setup, Spans};
use crate::engine::load;
use crate::engine::{self as core, Backend, BackendKind, Desired, RunError, RunOptions};
use crate::fault::{self, WORKLOAD_HOST};
use crate::record::RunRecord;
use crate::scenario::Scenario;
use crate::service::net::{Names, Net};
use crate::service::{CodeService, Context, Provided};
use crate::topology::{authority, instance_configs, PORT};

use network::Network;

/// Pending SYNs a listener may hold. turmoil panics past it, and releasing a
/// paused instance delivers every SYN parked during the pause at once.
const TCP_CAPACITY: usize = 1 << 16;

/// Simulated time allowed after the load phase for the last answers.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs `scenario` in the simulator.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    run_with(scenario, opts, Provided::default())
}

/// Runs `scenario` in the simulator with the services in `provided` run by
/// their code instead of the fixture ([`crate::service::Simulation`]).
pub fn run_with(
    scenario: &Scenario,
    opts: &RunOptions,
    provided: Provided,
) -> Result<RunRecord, RunError> {
    core::ready(core::run::<Simulator>(
        BackendKind::Sim,
        scenario,
        opts,
        provided,
    ))
    .unwrap_or_else(|| {
        Err(RunError::Backend(
            "the simulator waited on something outside the simulation".into(),
        ))
    })
}

/// The topology inside turmoil: the [`Backend`] the simulator is.
pub struct Simulator {
    sim: turmoil::Sim<'static>,
    /// Every instance's fixture counters and spans, in topology order.
    controls: IndexMap<String, Control>,
    services: IndexMap<String, Vec<String>>,
    network: Network,
    /// The simulation clock when the workload's first step ran: span times
    /// are on that clock, the load phase starts there.
    load_start: Rc<Cell<Duration>>,
    stop: Arc<AtomicBool>,
}

impl Backend for Simulator {
    /// The services run by code instead of the fixture.
    type Extra = Provided;

    async fn up(setup: Setup<'_>, provided: Provided) -> Result<Self, RunError> {
        let Setup {
            scenario,
            seed,
            duration,
            load,
            ..
        } = setup;
        let configs = instance_configs(scenario, seed)?;
        let mut sim = turmoil::Builder::new()
            .rng_seed(seed)
            // A fixed epoch keeps `since_epoch` (and anything derived from it) the
            // same on every run.
            .epoch(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
            .tick_duration(scenario.sim.tick)
            .min_message_latency(scenario.sim.latency_min)
            .max_message_latency(scenario.sim.latency_max)
            .tcp_capacity(TCP_CAPACITY)
            // Saturating: validation bounds both (limits.rs), but a scenario built
            // in code is not validated.
            .simulation_duration(
                duration
                    .saturating_add(scenario.workload.deadline)
                    .saturating_add(DRAIN),
            )
            .build();

        let names = Arc::new(Names::new(fault::instances(scenario)));
        let mut controls: IndexMap<String, Control> = IndexMap::new();
        for config in configs {
            let control = Control::default();
            controls.insert(config.instance.clone(), control.clone());
            let name = config.instance.clone();
            match provided.get(&config.service) {
                Some(code) => {
                    let start = code_start(&code.0, config, control, &names);
                    sim.host(name.as_str(), start);
                }
                None => sim.host(name.as_str(), move || {
                    squall_fixture::serve_sim(config.clone(), control.clone())
                }),
            }
        }

        let load_start = Rc::new(Cell::new(Duration::ZERO));
        let stop = Arc::new(AtomicBool::new(false));
        let authorities = load.targets.iter().map(|i| authority(i)).collect();
        let (started, stopped) = (load_start.clone(), stop.clone());
        sim.client(WORKLOAD_HOST, async move {
            let client = HttpClient::<squall_fixture::Sim>::new();
            let start = tokio::time::Instant::now();
            started.set(squall_fixture::clock::now().saturating_sub(start.elapsed()));
            load::simulated(client, load, authorities, start, stopped).await;
            Ok(())
        });

        let mut hosts: Vec<String> = controls.keys().cloned().collect();
        hosts.push(WORKLOAD_HOST.to_owned());
        let network = Network::new(
            scenario.sim.latency_min,
            scenario.sim.latency_max,
            hosts,
            controls.clone(),
        );
        Ok(Simulator {
            sim,
            controls,
            services: fault::instances(scenario),
            network,
            load_start,
            stop,
        })
    }

    fn now(&self) -> Duration {
        self.sim.elapsed()
    }

    fn load_time(&self, now: Duration) -> Duration {
        now.saturating_sub(self.load_start.get())
    }

    /// One simulation step (a tick), whatever `until` is: faults and
    /// spans are looked at between every two.
    async fn advance(&mut self, _until: Duration) -> Result<bool, RunError> {
        match self.sim.step() {
            Ok(done) => Ok(!done),
            Err(e) => Err(RunError::Backend(format!("the simulation stopped: {e}"))),
        }
    }

    async fn reconcile(
        &mut self,
        want: &Desired,
        restarts: &[String],
        _at: Duration,
    ) -> Result<(), RunError> {
        self.network.reconcile(&mut self.sim, want, restarts);
        Ok(())
    }

    fn stop_load(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    const SPANS_AS_THEY_END: bool = true;

    async fn spans(&mut self, all: bool) -> Vec<Spans> {
        let load_start = self.load_start.get();
        self.controls
            .values()
            .enumerate()
            .map(|(instance, control)| Spans {
                instance,
                drained: control.drain_spans(all),
                on_load: Box::new(move |t| t.saturating_sub(load_start)),
            })
            .collect()
    }

    async fn received(&mut self) -> Received {
        self.services
            .iter()
            .map(|(svc, names)| {
                let counts = names
                    .iter()
                    .map(|n| {
                        let count = self.controls.get(n).map(Control::received).unwrap_or(0);
                        (n.clone(), count)
                    })
                    .collect();
                (svc.clone(), counts)
            })
            .collect()
    }

    /// Nothing outside the simulation can interfere, and nothing needs undoing.
    async fn end(&mut self, ran: Result<(), RunError>) -> Result<(), RunError> {
        ran
    }

    async fn down(self, ended: Result<(), RunError>) -> Result<(), RunError> {
        ended
    }
}

/// The host closure of a code service's instance: each call (the first
/// start, and turmoil's `bounce` after a kill or a restart) starts the code
/// again with a fresh [`Context`] on the same [`Control`].
fn code_start(
    code: &CodeService,
    config: squall_fixture::InstanceConfig,
    control: Control,
    names: &Arc<Names>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = turmoil::Result>>> {
    let code = code.clone();
    let names = Arc::clone(names);
    let starts = Cell::new(0u64);
    let replica = crate::service::replica_of(&config.instance);
    move || {
        let start = starts.get();
        starts.set(start + 1);
        let ctx = Context {
            service: config.service.clone(),
            instance: config.instance.clone(),
            replica,
            seed: config.seed,
            start,
            port: PORT,
            net: Net::Sim,
            dependencies: config.upstreams.clone(),
            names: Arc::clone(&names),
            tap: Some(crate::service::layer::Tap::new(
                control.clone(),
                &config.instance,
                config.seed,
                start,
            )),
            layered: Arc::clone(&code.built_layer),
        };
        (code.start)(ctx)
    }
}
