//! Simulations on threads of one process are as deterministic as one at a
//! time: `cargo test` runs tests on threads of one process, and explore's
//! `--jobs` may too.
//!
//! Eight runs with a `kill` (turmoil crashes the host, drops its tokio
//! runtime, and starts it again on the heal) run at once on four threads and
//! must write the same report.json as the same eight run one after another.
//! This is the case that used to diverge (docs/simulator.md, "Threads and
//! tokio's task ids"): the crash dropped the host's tasks in an order set by
//! tokio's process-wide task-id counter, which the other threads' runs
//! advance. The second test makes that cause show on one thread, every time.

use std::path::Path;
use std::time::Duration;

use squall::engine::RunOptions;
use squall::invariant::evaluate;
use squall::report::Report;
use squall::scenario::{self, Scenario};

/// Both scenarios kill an instance: card-auth `ledger-1` at 10 s (for 20 s),
/// overlap-weakness `audit-1` at 4 s (for 4 s, so it is started again).
const CASES: [(&str, u64, u64); 8] = [
    ("card-auth", 1, 14),
    ("card-auth", 2, 14),
    ("card-auth", 3, 14),
    ("card-auth", 4, 14),
    ("overlap-weakness", 1, 10),
    ("overlap-weakness", 2, 10),
    ("overlap-weakness", 3, 10),
    ("overlap-weakness", 4, 10),
];

fn load(name: &str) -> Scenario {
    scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(format!("{name}.toml")),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn report_json(case: (&str, u64, u64)) -> String {
    let (name, seed, seconds) = case;
    let scenario = load(name);
    let opts = RunOptions {
        seed: Some(seed),
        duration: Some(Duration::from_secs(seconds)),
        ..RunOptions::default()
    };
    let record = squall::sim::run(&scenario, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    Report::build(&scenario, &record, evaluate(&scenario, &record)).to_json()
}

#[test]
fn eight_kill_runs_on_four_threads_write_the_reports_of_eight_runs_in_turn() {
    let alone: Vec<String> = CASES.iter().map(|&case| report_json(case)).collect();

    // Four threads, two cases each, all started before any is joined: the
    // simulations step at the same moments and their crashes overlap.
    let together: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                scope.spawn(move || {
                    [CASES[t], CASES[t + 4]]
                        .into_iter()
                        .map(report_json)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = vec![String::new(); CASES.len()];
        for (t, thread) in threads.into_iter().enumerate() {
            let [a, b]: [String; 2] = thread
                .join()
                .expect("a simulation thread panicked")
                .try_into()
                .expect("two reports per thread");
            out[t] = a;
            out[t + 4] = b;
        }
        out
    });

    for (i, case) in CASES.iter().enumerate() {
        assert!(
            alone[i] == together[i],
            "{} seed {}: report.json on four threads differs from the same run alone \
             (first difference at byte {})",
            case.0,
            case.1,
            alone[i]
                .bytes()
                .zip(together[i].bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(alone[i].len().min(together[i].len()))
        );
    }
    // The cases differ from each other: the comparison is not of empty runs.
    assert_ne!(alone[0], alone[1], "two seeds gave the same report");
}

/// Before the fix this failed on every run: after 3 or 4 throwaway tasks, the
/// crash of `ledger-1` at 10 s sent its sockets' FINs in another order, and
/// second 9's p99 moved from 29 to 30 ms.
#[test]
fn a_run_after_other_tokio_tasks_in_the_process_is_the_same_run() {
    let case = ("card-auth", 1, 14);
    let first = report_json(case);
    for spawned in 1..=5 {
        // Moves tokio's task-id counter, as any other work in the process does.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            for _ in 0..spawned {
                tokio::spawn(async {}).await.expect("a throwaway task");
            }
        });
        assert!(
            report_json(case) == first,
            "card-auth seed 1: report.json changed after {spawned} other tokio tasks"
        );
    }
}
