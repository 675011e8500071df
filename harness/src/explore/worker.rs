//! Running cases in worker processes: `--jobs N` starts N copies of this
//! binary (`squall explore SCENARIO --worker ...`), each reading case numbers
//! on stdin and writing one JSON [`CaseResult`] line per case on stdout
//! ([`serve`], handed its input and output by the CLI).
//!
//! Processes rather than threads: simulations on threads of one process are
//! as deterministic (docs/simulator.md, "Threads and tokio's task ids"), but
//! a worker keeps one case's memory and any panic away from the others. Each
//! worker runs its cases one at a
//! time; the parent hands out cases in order and keeps results by case
//! number, so what is reported does not depend on `--jobs`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::strategy::{describe, Space};
use crate::engine::RunOptions;
use crate::scenario::{format_duration, Fault, InvariantId, Scenario};

/// At most this many worker processes.
pub const MAX_JOBS: usize = 64;

/// A case still running after this long is taken for a hung worker: the
/// exploration stops with an environment error.
pub const CASE_WALL_LIMIT: Duration = Duration::from_secs(600);

/// An invariant a run failed: which one, and its label for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FailedInvariant {
    /// Its index in the scenario's `[[invariants]]`, from 0: what tells two
    /// invariants with the same label apart (`latency p99` during `faults`
    /// and during `recovery`).
    pub invariant: InvariantId,
    /// Its label, as `report.json` and the terminal print it: `latency p99`.
    pub label: String,
}

/// What running one schedule said: the invariants it failed, or why the run
/// itself failed (then no invariant was judged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutcome {
    pub failed: Vec<FailedInvariant>,
    pub error: Option<String>,
}

/// The failure a case is shrunk and checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// This invariant fails.
    Invariant(InvariantId),
    /// The run itself fails.
    RunError,
}

impl RunOutcome {
    /// Whether this run shows the failure `target`.
    pub fn shows(&self, target: Target) -> bool {
        match target {
            Target::Invariant(id) => self.failed.iter().any(|f| f.invariant == id),
            Target::RunError => self.error.is_some(),
        }
    }
}

/// What one case did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    pub case: u64,
    /// The seed of the case's simulator run.
    pub run_seed: u64,
    /// The kinds swarm testing enabled for it.
    pub kinds: Vec<String>,
    /// Its explored faults, one line each.
    pub faults: Vec<String>,
    /// The invariants it failed, in file order.
    pub failed: Vec<FailedInvariant>,
    /// Why its run failed, when it did (no invariant was judged then).
    pub error: Option<String>,
}

impl CaseResult {
    /// Whether the case failed: an invariant, or its run.
    pub fn fails(&self) -> bool {
        !self.failed.is_empty() || self.error.is_some()
    }

    /// The failure shrinking keeps: its first failed invariant, else the run's error.
    pub fn target(&self) -> Target {
        self.failed
            .first()
            .map_or(Target::RunError, |f| Target::Invariant(f.invariant))
    }
}

/// Runs one schedule of explored faults on top of `base`'s own and says
/// which invariants it fails.
pub fn outcome(base: &Scenario, space: &Space, run_seed: u64, explored: &[Fault]) -> RunOutcome {
    let scenario = space.scenario(base, explored);
    let opts = RunOptions {
        seed: Some(run_seed),
        figures_only: true,
        ..RunOptions::default()
    };
    match crate::sim::run(&scenario, &opts) {
        Ok(record) => RunOutcome {
            failed: crate::invariant::evaluate(&scenario, &record)
                .into_iter()
                .filter(|v| !v.held)
                .map(|v| FailedInvariant {
                    invariant: v.id,
                    label: v.label,
                })
                .collect(),
            error: None,
        },
        Err(e) => RunOutcome {
            failed: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

/// Draws and runs case `number`.
pub fn run_case(base: &Scenario, space: &Space, seed: u64, number: u64) -> CaseResult {
    let case = space.case(seed, number);
    let faults = space.schedule(&case.kinds, &case.tree.current());
    let RunOutcome { failed, error } = outcome(base, space, case.run_seed, &faults);
    CaseResult {
        case: number,
        run_seed: case.run_seed,
        kinds: case.kinds.iter().map(|k| k.name().to_owned()).collect(),
        faults: faults.iter().map(describe).collect(),
        failed,
        error,
    }
}

/// A worker was handed a line that is not a case number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("worker: not a case number: {0:?}")]
pub struct NotACaseNumber(pub String);

/// The worker's side: case numbers in on `input`, one result line each out
/// on `output`. Ends when `input` ends or `output` is closed.
pub fn serve(
    base: &Scenario,
    space: &Space,
    seed: u64,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<(), NotACaseNumber> {
    for line in input.lines() {
        let Ok(line) = line else { break };
        let Ok(number) = line.trim().parse::<u64>() else {
            return Err(NotACaseNumber(line));
        };
        let result = run_case(base, space, seed, number);
        let json = serde_json::to_string(&result).expect("a case result serialises");
        if writeln!(output, "{json}")
            .and_then(|_| output.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

/// Why the workers could not run the cases (an environment error).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot find squall's own binary: {0}")]
    NoBinary(std::io::Error),
    #[error("cannot start a worker ({}): {source}", exe.display())]
    Spawn {
        exe: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot hand case {case} to a worker: {source}")]
    Handoff { case: u64, source: std::io::Error },
    #[error("a worker wrote {line:?}: {source}")]
    BadLine {
        line: String,
        source: serde_json::Error,
    },
    #[error("a worker exited while running case {0}")]
    Exited(u64),
    #[error("case {case} ran for more than {limit}s: a worker seems hung", limit = CASE_WALL_LIMIT.as_secs())]
    Hung { case: u64 },
    #[error("every worker exited")]
    AllExited,
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    running: Option<(u64, Instant)>,
}

/// Runs `numbers` (in that order) on `jobs` workers and returns the results
/// in the same order, up to and including the first failing case: cases
/// after it are not started, or their results dropped, so the answer is the
/// same for any `jobs`. `done` sees each result as it arrives.
pub fn run_cases(
    scenario: &Path,
    seed: u64,
    duration: Duration,
    numbers: &[u64],
    jobs: usize,
    mut done: impl FnMut(&CaseResult),
) -> Result<Vec<CaseResult>, WorkerError> {
    let exe = std::env::current_exe().map_err(WorkerError::NoBinary)?;
    let jobs = jobs.clamp(1, MAX_JOBS).min(numbers.len().max(1));
    let (tx, rx) = mpsc::channel::<(usize, Option<String>)>();
    let mut workers = Vec::new();
    for w in 0..jobs {
        let mut child = Command::new(&exe)
            .arg("explore")
            .arg(scenario)
            .args(["--worker", "--color", "never", "--seed"])
            .arg(seed.to_string())
            .arg("--duration")
            .arg(format_duration(duration))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| WorkerError::Spawn {
                exe: exe.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((w, Some(line))).is_err() {
                    return;
                }
            }
            let _ = tx.send((w, None));
        });
        workers.push(Worker {
            stdin: child.stdin.take(),
            child,
            running: None,
        });
    }
    drop(tx);

    let result = drive(&mut workers, &rx, numbers, &mut done);
    for w in &mut workers {
        // Closing stdin ends a worker; one still busy (after an error) is killed.
        w.stdin = None;
        if w.running.is_some() {
            let _ = w.child.kill();
        }
        let _ = w.child.wait();
    }
    result
}

fn drive(
    workers: &mut [Worker],
    rx: &mpsc::Receiver<(usize, Option<String>)>,
    numbers: &[u64],
    done: &mut impl FnMut(&CaseResult),
) -> Result<Vec<CaseResult>, WorkerError> {
    let mut results: BTreeMap<u64, CaseResult> = BTreeMap::new();
    let mut next = 0;
    let mut first_failure: Option<u64> = None;
    let assign =
        |w: &mut Worker, next: &mut usize, first_failure: Option<u64>| -> Result<(), WorkerError> {
            let Some(&n) = numbers.get(*next) else {
                return Ok(());
            };
            // Cases after the first failure are not needed.
            if first_failure.is_some_and(|f| n > f) {
                return Ok(());
            }
            let stdin = w.stdin.as_mut().expect("stdin open while assigning");
            writeln!(stdin, "{n}")
                .and_then(|_| stdin.flush())
                .map_err(|source| WorkerError::Handoff { case: n, source })?;
            w.running = Some((n, Instant::now()));
            *next += 1;
            Ok(())
        };
    for w in workers.iter_mut() {
        assign(w, &mut next, first_failure)?;
    }
    while workers.iter().any(|w| w.running.is_some()) {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok((w, Some(line))) => {
                let result: CaseResult = match serde_json::from_str(&line) {
                    Ok(r) => r,
                    Err(source) => return Err(WorkerError::BadLine { line, source }),
                };
                let worker = &mut workers[w];
                debug_assert_eq!(worker.running.map(|r| r.0), Some(result.case));
                worker.running = None;
                if result.fails() {
                    first_failure = Some(first_failure.map_or(result.case, |f| f.min(result.case)));
                }
                done(&result);
                results.insert(result.case, result);
                assign(worker, &mut next, first_failure)?;
            }
            Ok((w, None)) => {
                if let Some((n, _)) = workers[w].running {
                    return Err(WorkerError::Exited(n));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some((n, _)) = workers
                    .iter()
                    .filter_map(|w| w.running)
                    .find(|(_, t)| t.elapsed() > CASE_WALL_LIMIT)
                {
                    return Err(WorkerError::Hung { case: n });
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(WorkerError::AllExited);
            }
        }
    }
    let last = first_failure.unwrap_or(u64::MAX);
    Ok(numbers
        .iter()
        .filter(|n| **n <= last)
        .filter_map(|n| results.remove(n))
        .collect())
}
