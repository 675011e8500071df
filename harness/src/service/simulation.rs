//! Running a scenario in `cargo test` with some of its services provided by
//! code: [`Simulation`] in, [`Outcome`] out.
//!
//! The scenario file is the same one `squall run` takes. Each service given
//! to [`Simulation::service`] runs the team's code (started once per instance,
//! and again after each kill or restart); the others stay squall's fixture,
//! modelled from the file. The run is the simulator's: same faults, same
//! invariants, same report, and the same seed gives the same `report.json`.
//!
//! ```no_run
//! # async fn fraud(ctx: squall::service::Context) -> std::io::Result<()> { Ok(()) }
//! let outcome = squall::service::Simulation::load("scenarios/card-auth.toml")
//!     .unwrap()
//!     .service("fraud", fraud)
//!     .run()
//!     .unwrap();
//! outcome.assert_held();
//! ```
//!
//! The seed is the scenario's, [`Simulation::seed`]'s, or, above both, the
//! `SQUALL_SEED` environment variable's, so a failed test is replayed with
//! the line its panic ends with.

use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use crate::engine::{RunError, RunOptions};
use crate::invariant::{Blind, Verdict};
use crate::report::{fmt_duration, hlog, Meta, Report};
use crate::scenario::{FaultKind, Scenario, ScenarioError};

use super::replay::{first_divergence, Divergence};
use super::Context;

/// The environment variable that overrides a simulation's seed.
pub const SEED_VAR: &str = "SQUALL_SEED";

type Started = Pin<Box<dyn Future<Output = turmoil::Result>>>;

/// One code service: how to start it, and whether it uses squall's layer.
#[derive(Clone)]
pub(crate) struct CodeService {
    pub(crate) start: Rc<dyn Fn(Context) -> Started>,
    /// Declared: it builds [`Context::layer`].
    pub(crate) layered: bool,
    /// Seen: some start of it built the layer.
    pub(crate) built_layer: Arc<AtomicBool>,
}

/// The services a run takes from code, by service name.
pub type Provided = IndexMap<String, CodeServiceHandle>;

/// A code service as the simulator holds it (opaque).
#[derive(Clone)]
pub struct CodeServiceHandle(pub(crate) CodeService);

/// A scenario with some of its services provided by code, ready to run in
/// the simulator.
pub struct Simulation {
    scenario: Scenario,
    provided: Provided,
    /// Names given to [`Simulation::service`] that the scenario lacks.
    unknown: Vec<String>,
    seed: Option<u64>,
    duration: Option<Duration>,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// The scenario file is wrong, or asks what its code services cannot do.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A service provided by code is not in the scenario.
    #[error("`{service}` is provided by code, but {file} has no such service\n  (hint: its services: {known})")]
    UnknownService {
        service: String,
        file: String,
        known: String,
    },
    /// `SQUALL_SEED` is not a number.
    #[error(
        "{SEED_VAR}=`{0}` is not a seed\n  (hint: a whole number from 0 to 18446744073709551615)"
    )]
    BadSeed(String),
    /// On Docker, a service provided by code has no image to run.
    #[error("`{0}` is provided by code, but on Docker it has no image of its own and would quietly run squall's fixture\n  (hint: build the code into an image whose `main` starts it with `Context::from_env()`, and name it in `[services.{0}.docker] image` or with `.image(\"{0}\", TAG)`)")]
    NoImage(String),
    /// A service said it uses squall's layer and never built it.
    #[error("`{0}` was provided with `service` (squall's layer in use), but no start of it called `ctx.layer()`\n  (hint: add `.layer(ctx.layer())` to its router, or provide it with `service_without_layer`)")]
    LayerNotBuilt(String),
    /// The run itself failed.
    #[error("{0}")]
    Run(#[from] RunError),
}

impl Simulation {
    /// Loads the scenario file at `path`; every service is a fixture until
    /// [`Simulation::service`] provides it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SimulationError> {
        Ok(Self::new(crate::scenario::load(path.as_ref())?))
    }

    /// A simulation of a scenario already loaded or parsed.
    pub fn new(scenario: Scenario) -> Self {
        Simulation {
            scenario,
            provided: IndexMap::new(),
            unknown: Vec::new(),
            seed: None,
            duration: None,
        }
    }

    /// Provides service `name` by code that uses squall's server layer
    /// ([`Context::layer`]): `start` runs once per instance, and again after
    /// each kill or restart, until its future is dropped. Providing one name
    /// again replaces what was given before.
    pub fn service<F, Fut, E>(self, name: &str, start: F) -> Self
    where
        F: Fn(Context) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.provide(name, start, true)
    }

    /// Provides service `name` by code that does not use squall's layer:
    /// `error` faults on it are refused, and the invariants that need its
    /// spans or counts say "not measured".
    pub fn service_without_layer<F, Fut, E>(self, name: &str, start: F) -> Self
    where
        F: Fn(Context) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.provide(name, start, false)
    }

    fn provide<F, Fut, E>(mut self, name: &str, start: F, layered: bool) -> Self
    where
        F: Fn(Context) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        if !self.scenario.services.contains_key(name) {
            self.unknown.push(name.to_owned());
            return self;
        }
        let start = Rc::new(move |ctx: Context| -> Started {
            let running = start(ctx);
            Box::pin(async move {
                running.await.map_err(|e| {
                    let e: Box<dyn Error + Send + Sync> = e.into();
                    let e: Box<dyn Error> = e;
                    e
                })
            })
        });
        self.provided.insert(
            name.to_owned(),
            CodeServiceHandle(CodeService {
                start,
                layered,
                built_layer: Arc::default(),
            }),
        );
        self
    }

    /// Runs with `seed` instead of the scenario's (`SQUALL_SEED` still wins).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Runs a load phase of `duration` instead of the scenario's.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// On Docker, runs `service` from image `tag` instead of its
    /// `[services.X.docker] image` (its port stays the file's): say, the
    /// image of another variant of its code. Only
    /// [`Simulation::run_on_docker`] reads it.
    pub fn image(mut self, service: &str, tag: &str) -> Self {
        match self.scenario.services.get_mut(service) {
            Some(s) => s.docker.image = Some(tag.to_owned()),
            None => self.unknown.push(service.to_owned()),
        }
        self
    }

    /// The scenario as loaded.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Checks what the code services cannot do, before anything runs.
    fn check(&self) -> Result<(), SimulationError> {
        if let Some(service) = self.unknown.first() {
            let known: Vec<String> = self
                .scenario
                .services
                .keys()
                .map(|s| format!("`{s}`"))
                .collect();
            return Err(SimulationError::UnknownService {
                service: service.clone(),
                file: self.scenario.path.display().to_string(),
                known: known.join(", "),
            });
        }
        for fault in &self.scenario.faults {
            let FaultKind::Error { target, .. } = &fault.kind else {
                continue;
            };
            let service = target.service();
            if self.provided.get(service).is_some_and(|c| !c.0.layered) {
                return Err(ScenarioError {
                    path: self.scenario.path.clone(),
                    line: fault.line,
                    col: fault.col,
                    message: format!(
                        "`error` on `{service}` needs squall's server layer, and its code is provided without it"
                    ),
                    hint: Some(format!(
                        "provide `{service}` with `service` and add `.layer(ctx.layer())` to its router: the layer answers the fault's status"
                    )),
                }
                .into());
            }
        }
        Ok(())
    }

    /// The seed this run uses: `SQUALL_SEED`, else [`Simulation::seed`], else
    /// the scenario's.
    pub fn run_seed(&self) -> Result<u64, SimulationError> {
        match std::env::var(SEED_VAR) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|_| SimulationError::BadSeed(text)),
            Err(_) => Ok(self.seed.unwrap_or(self.scenario.seed)),
        }
    }

    /// Runs the scenario in the simulator and judges it. An invariant that
    /// fails is not an error: see [`Outcome::assert_held`].
    pub fn run(&self) -> Result<Outcome, SimulationError> {
        let record = self.record(true)?;
        let mut blind = Blind::default();
        for (name, code) in &self.provided {
            if !code.0.layered {
                blind.code_without_layer(name);
            } else if !code.0.built_layer.load(Ordering::Relaxed) {
                return Err(SimulationError::LayerNotBuilt(name.clone()));
            }
        }
        let verdicts = crate::invariant::evaluate_blind(&self.scenario, &record, &blind);
        let report = Report::build(&self.scenario, &record, verdicts);
        Ok(Outcome {
            intervals: hlog::Intervals::of(&record, hlog::SIM_EPOCH_S),
            load: record.duration,
            report,
            file: self.scenario.path.clone(),
            duration: self.duration,
        })
    }
}

impl Simulation {
    /// Runs the same scenario on squall's Docker backend instead, in real
    /// time (docs/docker.md; it needs an engine and root): every service
    /// from its image, the code services from images their code is built
    /// into (a `main` that starts it with [`Context::from_env`]), with the
    /// same faults and invariants, judged as `squall run --backend docker`
    /// judges. The seed picks the same fault targets and draws; timings are
    /// the machine's, so the report is not byte-identical from run to run.
    pub fn run_on_docker(&self) -> Result<Outcome, SimulationError> {
        self.check()?;
        for name in self.provided.keys() {
            let service = &self.scenario.services[name];
            if crate::docker::own_image(&self.scenario, service).is_none() {
                return Err(SimulationError::NoImage(name.clone()));
            }
        }
        let opts = RunOptions {
            seed: Some(self.run_seed()?),
            duration: self.duration,
            figures_only: true,
            ..RunOptions::default()
        };
        let started = std::time::SystemTime::now();
        let record = crate::docker::run(&self.scenario, &opts)?;
        let verdicts = crate::invariant::evaluate(&self.scenario, &record);
        let epoch = started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(hlog::SIM_EPOCH_S, |d| d.as_secs());
        Ok(Outcome {
            intervals: hlog::Intervals::of(&record, epoch),
            load: record.duration,
            report: Report::build(&self.scenario, &record, verdicts),
            file: self.scenario.path.clone(),
            duration: self.duration,
        })
    }

    /// Runs the scenario, keeping every request and hop unless
    /// `figures_only`.
    fn record(&self, figures_only: bool) -> Result<crate::record::RunRecord, SimulationError> {
        self.check()?;
        // Seen afresh in every run: a start that builds the layer sets it.
        for code in self.provided.values() {
            code.0.built_layer.store(false, Ordering::Relaxed);
        }
        let opts = RunOptions {
            seed: Some(self.run_seed()?),
            duration: self.duration,
            figures_only,
            ..RunOptions::default()
        };
        Ok(crate::sim::run_with(
            &self.scenario,
            &opts,
            self.provided.clone(),
        )?)
    }

    /// The determinism check: runs the simulation twice in this process,
    /// keeping every request and hop, and returns where the second run first
    /// differs from the first ([`Divergence`]: the request, when it was sent,
    /// the first instance whose part differs, and the usual causes), or
    /// `None` when the two are the same run. Run it when a verdict changes
    /// between runs of one seed.
    pub fn check_replay(&self) -> Result<Option<Divergence>, SimulationError> {
        let first = self.record(false)?;
        let second = self.record(false)?;
        Ok(first_divergence(&first, &second))
    }
}

/// A judged run: its report, and what a test asserts on it.
pub struct Outcome {
    /// What `report.json` holds.
    pub report: Report,
    intervals: hlog::Intervals,
    load: Duration,
    file: PathBuf,
    duration: Option<Duration>,
}

impl Outcome {
    /// Every invariant held.
    pub fn held(&self) -> bool {
        self.report.invariants.iter().all(|v| v.held)
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.report.seed
    }

    /// The verdicts, in file order.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.report.invariants
    }

    /// The verdict labelled `label` (`success`, `latency p99`, `wasted work`).
    pub fn verdict(&self, label: &str) -> Option<&Verdict> {
        self.report.invariants.iter().find(|v| v.label == label)
    }

    /// `report.json`'s bytes: the same for the same scenario, code and seed.
    pub fn report_json(&self) -> String {
        self.report.to_json()
    }

    /// The lines `squall run` prints for this run: the seed, one line per
    /// invariant, the summary (without colour).
    pub fn lines(&self) -> String {
        let verb = |word: &str| format!("{word:>12}");
        let width = self
            .report
            .invariants
            .iter()
            .map(|v| v.label.len())
            .max()
            .unwrap_or(0);
        let mut out = format!("{}  {}\n", verb("Seed"), self.report.seed);
        for v in &self.report.invariants {
            let word = if v.held { "HELD" } else { "FAILED" };
            out.push_str(&format!(
                "{}  {:width$}  {}\n",
                verb(word),
                v.label,
                v.message
            ));
        }
        let held = self.report.invariants.iter().filter(|v| v.held).count();
        let simulated = if self.report.backend == "sim" {
            " simulated"
        } else {
            " on Docker"
        };
        out.push_str(&format!(
            "{}  {held} held, {} failed in {}{simulated}\n",
            verb("Summary"),
            self.report.invariants.len() - held,
            fmt_duration(self.load)
        ));
        out
    }

    /// How to replay this run: the same test with its seed.
    pub fn replay(&self) -> String {
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(|n| format!(" {n} -- --exact"))
            .unwrap_or_default();
        let mut line = format!(
            "{:>12}  {SEED_VAR}={} cargo test{test}",
            "Rerun", self.report.seed
        );
        if let Some(d) = self.duration {
            line.push_str(&format!(" (with a {} load phase)", fmt_duration(d)));
        }
        line
    }

    /// Panics unless every invariant held, with [`Outcome::lines`] and
    /// [`Outcome::replay`].
    #[track_caller]
    pub fn assert_held(&self) {
        if !self.held() {
            panic!(
                "an invariant failed in {}\n{}{}",
                self.file.display(),
                self.lines(),
                self.replay()
            );
        }
    }

    /// Writes every report file (`report.json`, `summary.md`, `junit.xml`,
    /// `latency.hlog`, `report.html`, `meta.json`) into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let (_, started_at) = crate::report::utc_stamp(std::time::SystemTime::now());
        let meta = Meta::new(dir, started_at, 0.0, String::new(), false);
        crate::report::write_all(dir, &self.report, &meta, &self.intervals)
    }
}
