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

pub mod regression;
pub mod report;
pub mod shrink;
pub mod strategy;
pub mod worker;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};

use crate::exit;
use crate::scenario::{self, format_duration};
use regression::Regression;
use report::{ExploreReport, FailureReport, Progress};
use strategy::{describe, Space};

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
    /// Run as a worker: case numbers in on stdin, results out on stdout.
    pub worker: bool,
}

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const NOTE: Style = AnsiColor::Cyan.on_default().bold();

fn verb(style: Style, word: &str) -> String {
    format!("{style}{word:>12}{style:#}")
}

/// Runs `squall explore` and returns its exit code.
pub fn main(opts: &Options) -> i32 {
    let path = opts.scenario.as_path();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "{BAD}error{BAD:#}: {}: cannot read scenario file: {e}",
                path.display()
            );
            return exit::BAD_INPUT;
        }
    };
    // Explore runs every case in the simulator: what it cannot do is refused
    // here, at its place in the file, not in every case.
    let base = match scenario::parse(&text, path)
        .and_then(|s| crate::engine::Backend::Sim.check(&s).map(|()| s))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            return exit::BAD_INPUT;
        }
    };
    let seed = opts.seed.unwrap_or(base.seed);
    // The seed is printed before the `[explore]` section is read, so even a
    // config error shows it.
    if !opts.worker {
        println!("{}  {seed}", verb(NOTE, "Seed"));
    }
    let Some(config) = base.explore.clone() else {
        eprintln!(
            "{BAD}error{BAD:#}: {}: has no `[explore]` section: nothing says which fault \
             schedules to explore\n  (hint: add one, e.g. `[explore]` with `kinds = [\"kill\", \
             \"latency\"]`, `targets = [\"ledger\"]`, `max_faults = 3` (see docs/explore.md))",
            path.display()
        );
        return exit::BAD_INPUT;
    };
    if opts.cases == 0 || opts.cases > MAX_CASES {
        eprintln!("{BAD}error{BAD:#}: --cases must be between 1 and {MAX_CASES}");
        return exit::BAD_INPUT;
    }
    let duration = opts.duration.unwrap_or(base.duration);
    if let Err(e) = scenario::limits::check_requests(base.workload.rate, duration) {
        eprintln!("{BAD}error{BAD:#}: {}: {e}", path.display());
        return exit::BAD_INPUT;
    }
    let space = match Space::new(&base, config, duration) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {}: {e}", path.display());
            return exit::BAD_INPUT;
        }
    };
    if opts.worker {
        return worker::serve(&base, &space, seed);
    }

    let numbers: Vec<u64> = (0..opts.cases)
        .filter(|n| opts.shard.is_none_or(|s| s.contains(*n)))
        .collect();
    // No more workers than cases: a 1-case run says "1 job", not 64.
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, worker::MAX_JOBS)
        .min(numbers.len().max(1));
    let shard = opts
        .shard
        .map(|s| format!(" (shard {s}: {} of them)", numbers.len()))
        .unwrap_or_default();
    println!(
        "{}  {} ({}): {} cases{shard}, {jobs} job{}, {} per case",
        verb(NOTE, "Exploring"),
        base.name,
        path.display(),
        opts.cases,
        if jobs == 1 { "" } else { "s" },
        format_duration(duration),
    );
    let _ = std::io::stdout().flush();

    let started = SystemTime::now();
    let clock = Instant::now();
    let mut progress = Progress::new(numbers.len());
    let results = worker::run_cases(path, seed, duration, &numbers, jobs, |r| progress.tick(r));
    progress.finish();
    let rate = progress.rate();
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            return exit::ENVIRONMENT;
        }
    };
    let explore_wall = clock.elapsed();

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

    let mut code = exit::HELD;
    let mut failure = None;
    let mut rerun = None;
    if let Some(first) = results.iter().find(|r| !r.failed.is_empty()) {
        code = exit::INVARIANT_FAILED;
        println!(
            "{}  case {} fails {} with {} explored fault{}: {}",
            verb(BAD, "FAILED"),
            first.case,
            first.failed.join(", "),
            first.faults.len(),
            if first.faults.len() == 1 { "" } else { "s" },
            first.faults.join("; ")
        );
        let _ = std::io::stdout().flush();
        let out = opts.out.as_deref();
        match shrink_and_write(&base, &text, &space, seed, first, &command, path, out) {
            Ok((f, written)) => {
                rerun = written.clone();
                failure = Some(f);
            }
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {e}");
                code = exit::ENVIRONMENT;
            }
        }
    }

    let failures = results.iter().filter(|r| !r.failed.is_empty()).count();
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
    let dir = match report.write(&base_dir, &stamp) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "{BAD}error{BAD:#}: cannot write the explore report under {}: {e}",
                base_dir.display()
            );
            return exit::ENVIRONMENT;
        }
    };
    let stopped = if failures > 0 {
        " (stopped at the first)"
    } else {
        ""
    };
    // The command's whole wall time (shrinking included); the rate is of the
    // exploring alone, as explore.json's `cases_per_minute`.
    println!(
        "{}  {} case{}, {failures} failure{}{stopped} in {:.1}s ({:.0} cases/min while exploring, {jobs} job{})  -> {}",
        verb(if failures == 0 { GOOD } else { BAD }, "Summary"),
        report.cases_run,
        if report.cases_run == 1 { "" } else { "s" },
        if failures == 1 { "" } else { "s" },
        clock.elapsed().as_secs_f64(),
        rate,
        if jobs == 1 { "" } else { "s" },
        dir.join("explore.json").display()
    );
    if let Some(file) = rerun {
        println!(
            "{}  {} run {file}",
            verb(NOTE, "Rerun"),
            crate::report::invocation()
        );
    }
    let _ = std::io::stdout().flush();
    code
}

/// Shrinks the first failing case, writes its regression file and checks
/// that running the file fails the same invariant.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn shrink_and_write(
    base: &scenario::Scenario,
    text: &str,
    space: &Space,
    seed: u64,
    first: &worker::CaseResult,
    command: &str,
    path: &Path,
    out: Option<&Path>,
) -> Result<(FailureReport, Option<String>), String> {
    let target = first.failed[0].clone();
    let mut case = space.case(seed, first.case);
    let run_seed = case.run_seed;
    let tty = std::io::stderr().is_terminal();
    let mut last = Instant::now();
    let shrunk = shrink::shrink(
        space,
        &mut case,
        &target,
        |faults| worker::outcome(base, space, run_seed, faults),
        |runs, faults| {
            if tty || last.elapsed() >= report::PROGRESS_INTERVAL {
                last = Instant::now();
                let line = format!("{:>12}  {runs} runs, {faults} faults", "Shrinking");
                if tty {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        },
    );
    if tty {
        eprint!("\r{:70}\r", "");
    }
    if !shrunk.failed.contains(&target) {
        return Err(format!(
            "case {} failed `{target}` in a worker but not when run again here: the simulation \
             was not deterministic (hint: report it with the seed {seed})",
            first.case
        ));
    }
    println!(
        "{}  {} explored fault{} -> {} in {} runs{}; fails {}",
        verb(NOTE, "Shrunk"),
        first.faults.len(),
        if first.faults.len() == 1 { "" } else { "s" },
        shrunk.faults.len(),
        shrunk.runs,
        if shrunk.complete {
            ""
        } else {
            " (budget spent)"
        },
        shrunk.failed.join(", ")
    );
    for f in &shrunk.faults {
        println!("{}  {}", verb(NOTE, "Fault"), describe(f));
    }

    let regression = Regression {
        text,
        name: &base.name,
        seed,
        case: first.case,
        run_seed,
        duration: space.duration,
        own: &space.own,
        explored: &shrunk.faults,
        failed: &shrunk.failed,
        command: command.to_owned(),
    };
    let file = match out {
        Some(dir) => regression.path_under(dir),
        None => regression.path(path),
    };
    let body = regression.render()?;
    std::fs::create_dir_all(file.parent().unwrap_or(Path::new(".")))
        .and_then(|_| std::fs::write(&file, &body))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    // The file must do what it says: run it as `squall run` would.
    let verified = match scenario::load(&file) {
        Ok(s) => crate::sim::run(&s, &crate::engine::RunOptions::default())
            .map(|record| {
                crate::invariant::evaluate(&s, &record)
                    .iter()
                    .any(|v| !v.held && v.label == target)
            })
            .unwrap_or(false),
        Err(e) => return Err(format!("the regression written does not load: {e}")),
    };
    println!(
        "{}  {}{}",
        verb(NOTE, "Regression"),
        file.display(),
        if verified {
            format!(" (checked: fails {target})")
        } else {
            " (WARNING: running it did not fail the same way)".into()
        }
    );
    let written = file.display().to_string();
    Ok((
        FailureReport {
            case: first.case,
            run_seed,
            failed: first.failed.clone(),
            schedule: first.faults.clone(),
            shrunk: shrunk.faults.iter().map(describe).collect(),
            shrunk_failed: shrunk.failed.clone(),
            shrink_runs: shrunk.runs,
            shrink_complete: shrunk.complete,
            regression: Some(written.clone()),
            verified,
        },
        Some(written),
    ))
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
