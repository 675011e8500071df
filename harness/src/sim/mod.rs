//! The simulator backend: the whole topology inside turmoil, deterministic.
//!
//! Every instance is a turmoil host running the fixture service on turmoil's
//! network; the workload is a turmoil client; faults are applied between
//! simulation steps at their scheduled simulated time ([`network`]). All
//! randomness comes from the run's seed (turmoil's world RNG, per-instance
//! fixture RNGs, the arrival schedule), the clock is turmoil's, and the run is
//! single-threaded, so the same scenario and seed give the same record, byte
//! for byte.

mod collect;
mod driver;
mod network;

use std::cell::{Cell, RefCell};
use std::io::IsTerminal;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use indexmap::IndexMap;
use squall_fixture::Control;

use crate::engine::{Backend, RunError, RunOptions, Timeline};
use crate::fault::{self, WORKLOAD_HOST};
use crate::invariant::Figures;
use crate::record::{AppliedFault, RunRecord};
use crate::scenario::Scenario;
use crate::topology::{authority, derive_seed, instance_configs};
use crate::workload::Arrivals;

use collect::Collector;
use driver::Driver;
use network::Network;

/// Pending SYNs a listener may hold. turmoil panics past it, and releasing a
/// paused instance delivers every SYN parked during the pause at once.
const TCP_CAPACITY: usize = 1 << 16;

/// How often a run whose stderr is not a terminal (a CI log) says how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Simulated time allowed after the load phase for the last answers.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs `scenario` in the simulator.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let duration = opts.duration.unwrap_or(scenario.duration);
    // `--duration` was checked by the CLI; a caller of the library may pass anything.
    crate::scenario::limits::check_requests(scenario.workload.rate, duration)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    // The CLI checked this when it loaded the file; a caller of the library
    // may not have.
    Backend::Sim
        .check(scenario)
        .map_err(|e| RunError::Unsupported(e.to_string()))?;
    let configs = instance_configs(scenario, seed)?;
    let plan = fault::plan(scenario, seed, duration);

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

    let mut controls: IndexMap<String, Control> = IndexMap::new();
    for config in configs {
        let control = Control::default();
        controls.insert(config.instance.clone(), control.clone());
        let name = config.instance.clone();
        sim.host(name.as_str(), move || {
            squall_fixture::serve_sim(config.clone(), control.clone())
        });
    }

    let schedule = Arrivals::new(
        scenario.workload.rate,
        scenario.workload.arrival,
        duration,
        derive_seed(seed, 0),
    );
    let applied: Vec<AppliedFault> = plan.iter().cloned().map(AppliedFault::from).collect();
    let services = fault::instances(scenario);
    let figures = Figures::new(scenario, duration, &applied, &services);
    let records: driver::Records = Rc::new(RefCell::new(Collector::new(
        figures,
        controls.keys().cloned().collect(),
        scenario.workload.deadline,
        !opts.figures_only,
    )));
    let targets = services
        .get(&scenario.workload.target)
        .map(|v| v.iter().map(|i| authority(i)).collect())
        .unwrap_or_default();
    let load_start = Rc::new(Cell::new(Duration::ZERO));
    let stop = Rc::new(Cell::new(false));
    let driver = Driver {
        stop: stop.clone(),
        targets,
        path: scenario.workload.path.clone(),
        deadline: scenario.workload.deadline,
        schedule,
        load_start: load_start.clone(),
    };
    sim.client(WORKLOAD_HOST, driver.run(records.clone()));

    let mut hosts: Vec<String> = controls.keys().cloned().collect();
    hosts.push(WORKLOAD_HOST.to_owned());
    let mut network = Network::new(
        scenario.sim.latency_min,
        scenario.sim.latency_max,
        hosts,
        controls.clone(),
    );

    let mut timeline = Timeline::new(&plan);

    // On a terminal, one line rewritten every simulated second; elsewhere (a
    // CI log) a plain line every PROGRESS_EVERY of wall time. The wall clock
    // only decides when to print, never what the run does.
    let tty = std::io::stderr().is_terminal();
    let progress = opts.progress && tty;
    let log_progress = opts.progress && !tty;
    let mut last_logged = std::time::Instant::now();
    let mut last_shown = 0;
    let mut last_drained = 0;
    // Set when Ctrl-C or SIGTERM stops the run early ([`crate::interrupt`]):
    // from then on the workload sends nothing and no fault changes, the
    // requests in flight get their answers (or reach their deadline), and
    // the run ends there, so every request sent has its true outcome.
    let mut stopped_at = None;
    loop {
        let now = sim.elapsed();
        if stopped_at.is_none() && crate::interrupt::requested() {
            stopped_at = Some(now);
            stop.set(true);
        }
        // Spans are taken as requests finish, a simulated second at a time, so
        // that the instances hold only those in progress.
        if now.as_secs() > last_drained {
            last_drained = now.as_secs();
            records.borrow_mut().drain(&controls);
        }
        if stopped_at.is_none() {
            while let Some(step) = timeline.due(now) {
                network.apply(&mut sim, &step);
            }
        }
        if (progress || log_progress) && now.as_secs() > last_shown {
            last_shown = now.as_secs();
            let line = format!(
                "{:>12}  {}s of {}s simulated",
                "Running",
                last_shown.min(duration.as_secs()),
                duration.as_secs()
            );
            if progress {
                eprint!("\r{line}");
            } else if last_logged.elapsed() >= PROGRESS_EVERY {
                last_logged = std::time::Instant::now();
                eprintln!("{line}");
            }
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(RunError::Backend(format!("the simulation stopped: {e}"))),
        }
    }
    if progress {
        eprint!("\r{:60}\r", "");
    }

    let mut received: IndexMap<String, IndexMap<String, u64>> = IndexMap::new();
    for (svc, names) in services {
        let counts = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    controls.get(n).map(Control::received).unwrap_or(0),
                )
            })
            .collect();
        received.insert(svc, counts);
    }
    drop(sim);
    let collector = Rc::try_unwrap(records)
        .map_err(|_| RunError::Backend("the workload outlived the simulation".into()))?
        .into_inner();
    let collected = collector.finish(&controls);
    let (mut applied, mut duration) = (applied, duration);
    if let Some(now) = stopped_at {
        // The load phase ended when the run stopped; the faults went as far
        // as they got. The record then reads like a shorter run, and windows
        // after the stop have nothing to judge.
        let measured = now.saturating_sub(load_start.get()).min(duration);
        applied.retain(|f| f.start < measured);
        for f in &mut applied {
            f.end = f.end.filter(|&end| end <= measured);
        }
        duration = measured;
    }
    let mut record = RunRecord {
        backend: Backend::Sim,
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
