//! `squall explore`: prints what [`squall::explore`] reports as it goes (the
//! seed, the cases, the shrinking, the regression, the summary) and picks the
//! exit code. The worker side (`--worker`) hands the library its stdin and
//! stdout.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anstream::{eprint, eprintln, println};

use squall::exit;
use squall::explore::strategy::describe;
use squall::explore::worker::FailedInvariant;
use squall::explore::{self, Event, ExploreError, Options, Start};
use squall::scenario::format_duration;

use super::{verb, ExploreArgs, BAD, GOOD, NOTE};

/// How often a progress line is printed when stderr is not a terminal (CI
/// logs); on a terminal it is rewritten in place at every step.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Runs `squall explore` (or a worker of one); returns the exit code.
pub fn explore(args: ExploreArgs) -> i32 {
    let opts = Options {
        scenario: args.scenario,
        cases: args.cases,
        seed: args.seed,
        jobs: args.jobs.map(usize::from),
        shard: args.shard,
        duration: args.duration,
        out: args.out,
    };
    if args.worker {
        return match explore::serve(&opts, std::io::stdin().lock(), std::io::stdout().lock()) {
            Ok(()) => exit::HELD,
            Err(e) => fail(&e),
        };
    }
    let mut progress = Progress::new();
    let outcome = explore::explore(&opts, |event| progress.event(event));
    progress.clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let mut code = if outcome.report.failures > 0 {
        exit::INVARIANT_FAILED
    } else {
        exit::HELD
    };
    if let Some(e) = &outcome.shrink_error {
        eprintln!("{BAD}error{BAD:#}: {e}");
        code = exit::ENVIRONMENT;
    }
    let r = &outcome.report;
    let failures = r.failures;
    let stopped = if failures > 0 {
        " (stopped at the first)"
    } else {
        ""
    };
    // The command's whole wall time (shrinking included); the rate is of the
    // exploring alone, as explore.json's `cases_per_minute`.
    println!(
        "{}  {} case{}, {failures} failure{}{stopped} in {:.1}s ({:.0} cases/min while exploring, {} job{})  -> {}",
        verb(if failures == 0 { GOOD } else { BAD }, "Summary"),
        r.cases_run,
        plural(r.cases_run),
        plural(failures),
        outcome.wall.as_secs_f64(),
        r.cases_per_minute,
        r.jobs,
        plural(r.jobs),
        outcome.dir.join("explore.json").display()
    );
    if let Some(file) = &outcome.regression {
        println!(
            "{}  {} run {}",
            verb(NOTE, "Rerun"),
            squall::report::invocation(),
            file.display()
        );
    }
    let _ = std::io::stdout().flush();
    code
}

/// Prints `e` and gives its exit code: bad input (2) or the environment (3).
fn fail(e: &ExploreError) -> i32 {
    eprintln!("{BAD}error{BAD:#}: {e}");
    match e {
        ExploreError::Scenario(_)
        | ExploreError::NoSection(_)
        | ExploreError::Cases(_)
        | ExploreError::TooManyRequests { .. }
        | ExploreError::NoRoom { .. }
        | ExploreError::Worker(_) => exit::BAD_INPUT,
        ExploreError::Workers(_) | ExploreError::WriteReport { .. } => exit::ENVIRONMENT,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a run failed, for people: labels, and the invariant's index where
/// two share a label; a run error last.
fn failed_names(failed: &[FailedInvariant], error: Option<&str>) -> String {
    let mut names: Vec<String> = failed
        .iter()
        .map(|f| {
            if failed.iter().filter(|g| g.label == f.label).count() > 1 {
                format!("{} ({})", f.label, f.invariant)
            } else {
                f.label.clone()
            }
        })
        .collect();
    if let Some(e) = error {
        names.push(format!("error: {e}"));
    }
    names.join(", ")
}

/// The events as lines: results on stdout, the progress line on stderr
/// (rewritten in place on a terminal, every [`PROGRESS_INTERVAL`] otherwise).
struct Progress {
    tty: bool,
    last: Instant,
    /// A progress line is on the terminal, to be cleared before other output.
    dirty: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: Instant::now(),
            dirty: false,
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Seed(seed) => println!("{}  {seed}", verb(NOTE, "Seed")),
            Event::Start(start) => start_line(start),
            Event::Case {
                done,
                total,
                failures,
                elapsed,
                ..
            } => {
                let secs = elapsed.as_secs_f64();
                let rate = if secs > 0.0 {
                    done as f64 * 60.0 / secs
                } else {
                    0.0
                };
                self.line(format!(
                    "{:>12}  {done}/{total} cases, {rate:.0}/min, {failures} failure{}",
                    "Exploring",
                    plural(failures)
                ));
            }
            Event::CasesDone => self.clear(),
            Event::Found(first) => {
                self.clear();
                println!(
                    "{}  case {} fails {} with {} explored fault{}: {}",
                    verb(BAD, "FAILED"),
                    first.case,
                    failed_names(&first.failed, first.error.as_deref()),
                    first.faults.len(),
                    plural(first.faults.len()),
                    first.faults.join("; ")
                );
                let _ = std::io::stdout().flush();
            }
            Event::Shrinking { runs, faults } => {
                self.line(format!("{:>12}  {runs} runs, {faults} faults", "Shrinking"));
            }
            Event::Shrunk { from, shrunk } => {
                self.clear();
                println!(
                    "{}  {from} explored fault{} -> {} in {} runs{}; fails {}",
                    verb(NOTE, "Shrunk"),
                    plural(from),
                    shrunk.faults.len(),
                    shrunk.runs,
                    if shrunk.complete {
                        ""
                    } else {
                        " (budget spent)"
                    },
                    failed_names(&shrunk.outcome.failed, shrunk.outcome.error.as_deref())
                );
                for f in &shrunk.faults {
                    println!("{}  {}", verb(NOTE, "Fault"), describe(f));
                }
            }
            Event::Regression {
                file,
                verified,
                target,
            } => println!(
                "{}  {}{}",
                verb(NOTE, "Regression"),
                file.display(),
                if verified {
                    format!(" (checked: fails {target})")
                } else {
                    " (WARNING: running it did not fail the same way)".into()
                }
            ),
        }
    }

    /// A progress line: always on a terminal, every interval otherwise.
    fn line(&mut self, line: String) {
        if !self.tty && self.last.elapsed() < PROGRESS_INTERVAL {
            return;
        }
        self.last = Instant::now();
        if self.tty {
            eprint!("\r{line}");
            self.dirty = true;
        } else {
            eprintln!("{line}");
        }
    }

    fn clear(&mut self) {
        if self.dirty {
            eprint!("\r{:70}\r", "");
            self.dirty = false;
        }
    }
}

/// `Exploring  card-auth (scenarios/card-auth.toml): 100 cases, 2 jobs, 10s per case`.
fn start_line(s: &Start) {
    let shard = s
        .shard
        .map(|sh| format!(" (shard {sh}: {} of them)", s.selected))
        .unwrap_or_default();
    println!(
        "{}  {} ({}): {} cases{shard}, {} job{}, {} per case",
        verb(NOTE, "Exploring"),
        s.scenario,
        s.path.display(),
        s.cases,
        s.jobs,
        plural(s.jobs),
        format_duration(s.duration),
    );
    let _ = std::io::stdout().flush();
}
