//! Running cases in worker processes: `--jobs N` starts N copies of this
//! binary (`squall explore SCENARIO --worker ...`), each reading case numbers
//! on stdin and writing one JSON [`CaseResult`] line per case on stdout.
//!
//! Processes, not threads: two simulations running at the same moment on two
//! threads of one process can diverge after a `kill` (docs/simulator.md,
//! "Known limit"), while simulations one after another in one process, or in
//! separate processes, are identical. Each worker runs its cases one at a
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
use crate::scenario::{format_duration, Fault, Scenario};

/// At most this many worker processes.
pub const MAX_JOBS: usize = 64;

/// A case still running after this long is taken for a hung worker: the
/// exploration stops with an environment error.
pub const CASE_WALL_LIMIT: Duration = Duration::from_secs(600);

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
    /// Labels of the invariants it failed (`error: ...` if the run failed).
    pub failed: Vec<String>,
}

/// Runs one schedule of explored faults on top of `base`'s own and returns
/// the labels of the invariants it fails.
pub fn outcome(base: &Scenario, space: &Space, run_seed: u64, explored: &[Fault]) -> Vec<String> {
    let scenario = space.scenario(base, explored);
    let opts = RunOptions {
        seed: Some(run_seed),
        figures_only: true,
        ..RunOptions::default()
    };
    match crate::sim::run(&scenario, &opts) {
        Ok(record) => crate::invariant::evaluate(&scenario, &record)
            .into_iter()
            .filter(|v| !v.held)
            .map(|v| v.label)
            .collect(),
        Err(e) => vec![format!("error: {e}")],
    }
}

/// Draws and runs case `number`.
pub fn run_case(base: &Scenario, space: &Space, seed: u64, number: u64) -> CaseResult {
    let case = space.case(seed, number);
    let faults = space.schedule(&case.kinds, &case.tree.current());
    CaseResult {
        case: number,
        run_seed: case.run_seed,
        kinds: case.kinds.iter().map(|k| k.name().to_owned()).collect(),
        faults: faults.iter().map(describe).collect(),
        failed: outcome(base, space, case.run_seed, &faults),
    }
}

/// The worker's side: case numbers in on stdin, one result line each out.
pub fn serve(base: &Scenario, space: &Space, seed: u64) -> i32 {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(number) = line.trim().parse::<u64>() else {
            eprintln!("error: worker: not a case number: {line:?}");
            return crate::exit::BAD_INPUT;
        };
        let result = run_case(base, space, seed, number);
        let json = serde_json::to_string(&result).expect("a case result serialises");
        if writeln!(stdout, "{json}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    crate::exit::HELD
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
) -> Result<Vec<CaseResult>, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find squall's own binary: {e}"))?;
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
            .map_err(|e| format!("cannot start a worker ({}): {e}", exe.display()))?;
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
) -> Result<Vec<CaseResult>, String> {
    let mut results: BTreeMap<u64, CaseResult> = BTreeMap::new();
    let mut next = 0;
    let mut first_failure: Option<u64> = None;
    let assign =
        |w: &mut Worker, next: &mut usize, first_failure: Option<u64>| -> Result<(), String> {
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
                .map_err(|e| format!("cannot hand case {n} to a worker: {e}"))?;
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
                let result: CaseResult = serde_json::from_str(&line)
                    .map_err(|e| format!("a worker wrote {line:?}: {e}"))?;
                let worker = &mut workers[w];
                debug_assert_eq!(worker.running.map(|r| r.0), Some(result.case));
                worker.running = None;
                if !result.failed.is_empty() {
                    first_failure = Some(first_failure.map_or(result.case, |f| f.min(result.case)));
                }
                done(&result);
                results.insert(result.case, result);
                assign(worker, &mut next, first_failure)?;
            }
            Ok((w, None)) => {
                if let Some((n, _)) = workers[w].running {
                    return Err(format!("a worker exited while running case {n}"));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some((n, _)) = workers
                    .iter()
                    .filter_map(|w| w.running)
                    .find(|(_, t)| t.elapsed() > CASE_WALL_LIMIT)
                {
                    return Err(format!(
                        "case {n} ran for more than {}s: a worker seems hung",
                        CASE_WALL_LIMIT.as_secs()
                    ));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("every worker exited".into());
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
