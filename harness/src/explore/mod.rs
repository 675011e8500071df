//! `squall explore`: search random fault schedules for one that breaks an
//! invariant, shrink the first one found, and write it as a regression.
//!
//! Reach for it when the hand-written `[[faults]]` pass: explore draws fault
//! schedules from the scenario's `[explore]` section (validated with the
//! rest of the file, [`crate::scenario::ExploreConfig`]) with
//! proptest strategies ([`strategy`]), runs each on top of the scenario's own
//! faults in the simulator, and checks the invariants. The first failing case
//! is shrunk ([`shrink`]) to a schedule with no fault to spare and written as
//! an ordinary scenario file under `regressions/` ([`regression`]).
//!
//! As in TigerBeetle's VOPR, the seed comes first and everything derives from
//! it: case `i` draws its schedule, its swarm of enabled kinds and its run's
//! seed from `(seed, i)` alone. Cases run in worker processes ([`worker`]) and
//! are reported in case order, so `--jobs` changes the speed, never the
//! result; `--shard I/N` takes every N-th case for a CI matrix.
//!
//! The library prints nothing and picks no exit code: [`explore`] reports
//! its progress as [`Event`]s to a callback and returns an [`Outcome`] or an
//! [`ExploreError`]; the CLI (`cli/explore.rs`) prints and exits. Invariants
//! are compared by [`InvariantId`], never by label.

pub mod regression;
pub mod report;
pub mod shrink;
pub mod strategy;
pub mod worker;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use crate::scenario::limits::TooManyRequests;
use crate::scenario::{self, format_duration, Scenario, ScenarioError};
use regression::{Regression, RenderError};
use report::{ExploreReport, FailureReport};
use shrink::Shrunk;
use strategy::{describe, NoRoom, Space};
use worker::{CaseResult, NotACaseNumber, RunOutcome, Target, WorkerError};

/// Cases explored when `--cases` is not given.
pub const DEFAULT_CASES: u64 = 100;
/// At most this many cases in one exploration.
pub const MAX_CASES: u64 = 1_000_000;

/// `--shard I/N`: the cases whose number is `I-1` modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn contains(&self, case: u64) -> bool {
        case % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected I/N with 1 <= I <= N, like `2/4`, found `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `squall explore`, after the command line was read.
#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: PathBuf,
    pub cases: u64,
    /// Defaults to the scenario's `seed`.
    pub seed: Option<u64>,
    /// Worker processes; defaults to the machine's cores.
    pub jobs: Option<usize>,
    pub shard: Option<Shard>,
    /// Load phase of each case; defaults to the scenario's `duration`.
    pub duration: Option<Duration>,
    /// Reports go here instead of `reports/`.
    pub out: Option<PathBuf>,
}

/// Why an exploration could not run. The first five are bad input, the rest
/// the environment's fault.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// The scenario file cannot be read or used (its `[explore]` included).
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error(
        "{}: has no `[explore]` section: nothing says which fault schedules to explore\n  \
         (hint: add one, e.g. `[explore]` with `kinds = [\"kill\", \"latency\"]`, \
         `targets = [\"ledger\"]`, `max_faults = 3` (see docs/explore.md))",
        .0.display()
    )]
    NoSection(PathBuf),
    #[error("--cases must be between 1 and {MAX_CASES}")]
    Cases(u64),
    /// `--duration` makes the scenario offer too many requests.
    #[error("{}: {source}", path.display())]
    TooManyRequests {
        path: PathBuf,
        source: TooManyRequests,
    },
    #[error("{}: {source}", path.display())]
    NoRoom { path: PathBuf, source: NoRoom },
    /// A worker was handed a line that is not a case number (bad input on
    /// its stdin).
    #[error("{0}")]
    Worker(#[from] NotACaseNumber),
    /// The workers could not run the cases.
    #[error("{0}")]
    Workers(#[from] WorkerError),
    #[error("cannot write the explore report under {}: {source}", dir.display())]
    WriteReport {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Why the first failure could not be shrunk into a regression file. The
/// exploration still writes its report.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(
        "case {case} failed `{target}` in a worker but not when run again here: the simulation \
         was not deterministic (hint: report it with the seed {seed})"
    )]
    NotDeterministic {
        case: u64,
        target: String,
        seed: u64,
    },
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("cannot write {}: {source}", file.display())]
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("the regression written does not load: {0}")]
    Load(ScenarioError),
}

/// What the exploration is doing, as it goes: for the CLI to print.
#[derive(Debug)]
pub enum Event<'a> {
    /// The seed, first of all (after the file loaded), so that an error
    /// later still shows it.
    Seed(u64),
    /// The cases are about to run.
    Start(&'a Start),
    /// A case finished (in the order they finish, not case order).
    Case {
        result: &'a CaseResult,
        /// Cases finished so far, of `total`, and how many failed.
        done: usize,
        total: usize,
        failures: usize,
        /// Since the cases started.
        elapsed: Duration,
    },
    /// Every case ran.
    CasesDone,
    /// The first failing case, about to be shrunk.
    Found(&'a CaseResult),
    /// One shrinking run: runs spent so far, explored faults of the candidate.
    Shrinking { runs: usize, faults: usize },
    /// Shrinking ended; `from` is how many explored faults the case had.
    Shrunk {
        from: usize,
        shrunk: &'a Shrunk<RunOutcome>,
    },
    /// The regression file was written and run: `verified` when it failed
    /// `target` again.
    Regression {
        file: &'a Path,
        verified: bool,
        target: &'a str,
    },
}

/// What [`Event::Start`] says.
#[derive(Debug, Clone)]
pub struct Start {
    /// The scenario's `name`, and its file.
    pub scenario: String,
    pub path: PathBuf,
    /// `--cases`, and how many of them this shard runs.
    pub cases: u64,
    pub selected: usize,
    pub shard: Option<Shard>,
    pub jobs: usize,
    /// Load phase of every case.
    pub duration: Duration,
}

/// A finished exploration.
#[derive(Debug)]
pub struct Outcome {
    /// What `explore.json` says.
    pub report: ExploreReport,
    /// The directory `explore.json` was written into.
    pub dir: PathBuf,
    /// The regression file written for the first failure.
    pub regression: Option<PathBuf>,
    /// Why there is none although a case failed.
    pub shrink_error: Option<ShrinkError>,
    /// Wall time of the whole exploration, shrinking included.
    pub wall: Duration,
}

/// The scenario, its `[explore]` space and the seed, checked.
struct Prepared {
    base: Scenario,
    text: String,
    seed: u64,
    space: Space,
}

/// Reads and checks everything before any case runs.
fn prepare(opts: &Options, on: &mut impl FnMut(Event<'_>)) -> Result<Prepared, ExploreError> {
    let path = opts.scenario.as_path();
    let text = scenario::read(path)?;
    // Explore runs every case in the simulator: what it cannot do is refused
    // here, at its place in the file, not in every case.
    let base = scenario::parse(&text, path)?;
    crate::engine::BackendKind::Sim.check(&base)?;
    let seed = opts.seed.unwrap_or(base.seed);
    on(Event::Seed(seed));
    let config = base
        .explore
        .clone()
        .ok_or_else(|| ExploreError::NoSection(path.to_path_buf()))?;
    if opts.cases == 0 || opts.cases > MAX_CASES {
        return Err(ExploreError::Cases(opts.cases));
    }
    let duration = opts.duration.unwrap_or(base.duration);
    scenario::limits::check_requests(base.workload.rate, duration).map_err(|source| {
        ExploreError::TooManyRequests {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let space = Space::new(&base, config, duration).map_err(|source| ExploreError::NoRoom {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Prepared {
        base,
        text,
        seed,
        space,
    })
}

/// `squall explore --worker`: runs the case numbers read from `input`,
/// writing one JSON result line each to `output` ([`worker::serve`]).
pub fn serve(opts: &Options, input: impl BufRead, output: impl Write) -> Result<(), ExploreError> {
    let p = prepare(opts, &mut |_| {})?;
    worker::serve(&p.base, &p.space, p.seed, input, output)?;
    Ok(())
}

/// Runs `squall explore`: the cases, then shrinking the first failure and
/// writing its regression, then `explore.json`. `on` sees each [`Event`].
pub fn explore(opts: &Options, mut on: impl FnMut(Event<'_>)) -> Result<Outcome, ExploreError> {
    let clock = Instant::now();
    let Prepared {
        base,
        text,
        seed,
        space,
    } = prepare(opts, &mut on)?;
    let path = opts.scenario.as_path();
    let duration = space.duration;
    let numbers: Vec<u64> = (0..opts.cases)
        .filter(|n| opts.shard.is_none_or(|s| s.contains(*n)))
        .collect();
    // No more workers than cases: a 1-case run says "1 job", not 64.
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, worker::MAX_JOBS)
        .min(numbers.len().max(1));
    on(Event::Start(&Start {
        scenario: base.name.clone(),
        path: path.to_path_buf(),
        cases: opts.cases,
        selected: numbers.len(),
        shard: opts.shard,
        jobs,
        duration,
    }));

    let started = SystemTime::now();
    let cases_clock = Instant::now();
    let (mut done, mut failures) = (0, 0);
    let results = worker::run_cases(path, seed, duration, &numbers, jobs, |result| {
        done += 1;
        failures += usize::from(result.fails());
        on(Event::Case {
            result,
            done,
            total: numbers.len(),
            failures,
            elapsed: cases_clock.elapsed(),
        });
    });
    let explore_wall = cases_clock.elapsed();
    on(Event::CasesDone);
    let results = results?;
    let rate = per_minute(done, explore_wall);

    let mut command = format!(
        "squall explore {} --seed {seed} --cases {}",
        path.display(),
        opts.cases
    );
    if let Some(d) = opts.duration {
        command.push_str(&format!(" --duration {}", format_duration(d)));
    }
    if let Some(s) = opts.shard {
        command.push_str(&format!(" --shard {s}"));
    }

    let mut failure = None;
    let mut regression = None;
    let mut shrink_error = None;
    if let Some(first) = results.iter().find(|r| r.fails()) {
        on(Event::Found(first));
        let found = Found {
            base: &base,
            text: &text,
            space: &space,
            seed,
            first,
        };
        match found.shrink_and_write(&command, path, opts.out.as_deref(), &mut on) {
            Ok((f, file)) => {
                regression = Some(file);
                failure = Some(f);
            }
            Err(e) => shrink_error = Some(e),
        }
    }

    let failures = results.iter().filter(|r| r.fails()).count();
    let report = ExploreReport {
        format: report::FORMAT,
        scenario: base.name.clone(),
        path: path.display().to_string(),
        seed,
        duration: format_duration(duration),
        cases_requested: opts.cases,
        shard: opts.shard.map(|s| s.to_string()),
        jobs,
        cases_run: results.len(),
        failures,
        wall_seconds: explore_wall.as_secs_f64(),
        cases_per_minute: rate,
        cases: results,
        failure,
    };
    let (stamp, _) = crate::report::utc_stamp(started);
    let base_dir = opts.out.clone().unwrap_or_else(|| PathBuf::from("reports"));
    let dir = report
        .write(&base_dir, &stamp)
        .map_err(|source| ExploreError::WriteReport {
            dir: base_dir.clone(),
            source,
        })?;
    Ok(Outcome {
        report,
        dir,
        regression,
        shrink_error,
        wall: clock.elapsed(),
    })
}

/// Cases per minute of `wall`.
fn per_minute(cases: usize, wall: Duration) -> f64 {
    let s = wall.as_secs_f64();
    if s > 0.0 {
        cases as f64 * 60.0 / s
    } else {
        0.0
    }
}

/// The first failing case, with what shrinking it needs.
struct Found<'a> {
    base: &'a Scenario,
    text: &'a str,
    space: &'a Space,
    seed: u64,
    first: &'a CaseResult,
}

impl Found<'_> {
    /// The label of what is shrunk for, for people.
    fn target_name(&self, target: Target) -> String {
        match target {
            Target::Invariant(id) => self
                .first
                .failed
                .iter()
                .find(|f| f.invariant == id)
                .map_or_else(|| id.to_string(), |f| f.label.clone()),
            Target::RunError => "error".into(),
        }
    }

    /// Shrinks the case, writes its regression file and checks that running
    /// the file fails the same invariant.
    fn shrink_and_write(
        &self,
        command: &str,
        path: &Path,
        out: Option<&Path>,
        on: &mut impl FnMut(Event<'_>),
    ) -> Result<(FailureReport, PathBuf), ShrinkError> {
        let (base, space, seed, first) = (self.base, self.space, self.seed, self.first);
        let target = first.target();
        let target_name = self.target_name(target);
        let mut case = space.case(seed, first.case);
        let run_seed = case.run_seed;
        let shrunk = shrink::shrink(
            space,
            &mut case,
            |faults| worker::outcome(base, space, run_seed, faults),
            |o: &RunOutcome| o.shows(target),
            |runs, faults| on(Event::Shrinking { runs, faults }),
        );
        if !shrunk.outcome.shows(target) {
            return Err(ShrinkError::NotDeterministic {
                case: first.case,
                target: target_name,
                seed,
            });
        }
        on(Event::Shrunk {
            from: first.faults.len(),
            shrunk: &shrunk,
        });

        let labels: Vec<String> = shrunk
            .outcome
            .failed
            .iter()
            .map(|f| f.label.clone())
            .collect();
        let regression = Regression {
            text: self.text,
            name: &base.name,
            seed,
            case: first.case,
            run_seed,
            duration: space.duration,
            own: &space.own,
            explored: &shrunk.faults,
            failed: &labels,
            command: command.to_owned(),
        };
        let file = match out {
            Some(dir) => regression.path_under(dir),
            None => regression.path(path),
        };
        let body = regression.render()?;
        std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))
            .and_then(|_| std::fs::write(&file, &body))
            .map_err(|source| ShrinkError::Write {
                file: file.clone(),
                source,
            })?;
        // The file must do what it says: run it as `squall run` would.
        let written = scenario::load(&file).map_err(ShrinkError::Load)?;
        let verified = match crate::sim::run(&written, &crate::engine::RunOptions::default()) {
            Ok(record) => match target {
                Target::Invariant(id) => crate::invariant::evaluate(&written, &record)
                    .iter()
                    .any(|v| !v.held && v.id == id),
                Target::RunError => false,
            },
            Err(_) => target == Target::RunError,
        };
        on(Event::Regression {
            file: &file,
            verified,
            target: &target_name,
        });
        let target_id = match target {
            Target::Invariant(id) => Some(id),
            Target::RunError => None,
        };
        Ok((
            FailureReport {
                case: first.case,
                run_seed,
                failed: first.failed.clone(),
                error: first.error.clone(),
                target: target_id,
                schedule: first.faults.clone(),
                shrunk: shrunk.faults.iter().map(describe).collect(),
                shrunk_failed: shrunk.outcome.failed.clone(),
                shrunk_error: shrunk.outcome.error.clone(),
                shrink_runs: shrunk.runs,
                shrink_complete: shrunk.complete,
                regression: Some(file.display().to_string()),
                verified,
            },
            file,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_cases() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for n in 0..30u64 {
            assert_eq!(shards.iter().filter(|s| s.contains(n)).count(), 1);
        }
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
