//! Every scenario in `scenarios/` runs in the simulator with the verdict its
//! `expect` key declares, and the documented weaknesses fail for the reasons
//! their files give.

use std::path::{Path, PathBuf};

use squall::engine::RunOptions;
use squall::invariant::{evaluate, Verdict};
use squall::record::RunRecord;
use squall::report::Report;
use squall::scenario::{self, Expect, Scenario};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn run(name: &str) -> (Scenario, RunRecord, Vec<Verdict>) {
    let scenario = scenario::load(&scenarios_dir().join(name)).expect("scenario loads");
    let record = squall::sim::run(&scenario, &RunOptions::default()).expect("scenario runs");
    let verdicts = evaluate(&scenario, &record);
    (scenario, record, verdicts)
}

fn verdict<'a>(verdicts: &'a [Verdict], label: &str) -> &'a Verdict {
    verdicts
        .iter()
        .find(|v| v.label == label)
        .unwrap_or_else(|| panic!("no invariant `{label}` in {verdicts:#?}"))
}

fn assert_all_held(verdicts: &[Verdict]) {
    let failed: Vec<_> = verdicts.iter().filter(|v| !v.held).collect();
    assert!(failed.is_empty(), "failed invariants: {failed:#?}");
}

/// Scenarios with a test of their own below or in `resilience.rs` (the
/// resilience pairs); any other file in `scenarios/` is run by
/// `every_other_scenario_meets_its_expectation`.
const COVERED: &[&str] = &[
    "card-auth.toml",
    "search-degrade.toml",
    "retry-storm.toml",
    "slow-replica-round-robin.toml",
    "slow-replica-p2c.toml",
    "slow-replica-epsilon-greedy.toml",
    "slow-replica-hedge.toml",
    "fail-fast-no-breaker.toml",
    "fail-fast-breaker.toml",
    "deep-chain-no-deadline.toml",
    "deep-chain-deadline.toml",
    "retry-budget-none.toml",
    "retry-budget.toml",
    "storefront-108.toml",
];

#[test]
fn card_auth_holds_every_invariant_while_a_ledger_dies_and_fraud_turns_slow() {
    let (scenario, record, verdicts) = run("card-auth.toml");
    assert_eq!(scenario.expect, Expect::Pass);
    assert_all_held(&verdicts);
    assert_eq!(record.requests.len(), 30_000, "500/s for 60s");
    assert_eq!(record.faults.len(), 2);
    // The slow fraud replica is cut off by card-api's 30ms timeout: those
    // payments are approved without the fraud score, marked degraded.
    let report = Report::build(&scenario, &record, verdicts);
    assert!(
        report.degraded_by.get("fraud").copied().unwrap_or(0) > 500,
        "{:?}",
        report.degraded_by
    );
    // Nothing is degraded before the faults.
    assert_eq!(report.phases["baseline"].summary.degraded, 0);
}

#[test]
fn storefront_108_answers_in_time_while_a_db_dies_recs_turns_slow_and_a_cache_is_cut_off() {
    // 108 instances, 8 simulated seconds: the simulator at scale inside the
    // test suite (a few seconds of wall time since the turmoil fork).
    let (scenario, record, verdicts) = run("storefront-108.toml");
    assert_eq!(scenario.expect, Expect::Pass);
    let instances: usize = record.received.values().map(|i| i.len()).sum();
    assert_eq!(instances, 108);
    assert_eq!(record.faults.len(), 3);
    assert_all_held(&verdicts);
    // Every tier served: ten hops a request, spread over every replica.
    assert!(record
        .received
        .values()
        .flat_map(|i| i.values())
        .all(|&n| n > 0));
    // The slow recs replica is cut off by api's 40 ms timeout: those answers
    // come back without recommendations, degraded, not failed.
    let report = Report::build(&scenario, &record, verdicts);
    assert!(
        report.degraded_by.get("recs").copied().unwrap_or(0) > 0,
        "{:?}",
        report.degraded_by
    );
}

#[test]
fn search_degrade_answers_fast_and_degraded_while_merchant_is_partitioned() {
    let (scenario, record, verdicts) = run("search-degrade.toml");
    assert_all_held(&verdicts);
    let report = Report::build(&scenario, &record, verdicts);
    let faults = &report.phases["faults"].summary;
    // Every answer during the partition comes back without the merchant
    // enrichment, and none fails.
    assert!(
        faults.degraded as f64 >= 0.99 * faults.requests as f64,
        "{faults:?}"
    );
    assert_eq!(
        faults.errors + faults.failed + faults.timeouts,
        0,
        "{faults:?}"
    );
    assert_eq!(report.degraded_by.keys().collect::<Vec<_>>(), ["merchant"]);
    assert_eq!(report.phases["recovery"].summary.degraded, 0);
}

#[test]
fn retry_storm_fails_answered_latency_success_and_amplification_during_the_fault() {
    let (scenario, record, verdicts) = run("retry-storm.toml");
    assert_eq!(scenario.expect, Expect::Fail);
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| !v.held)
        .map(|v| v.label.as_str())
        .collect();
    assert_eq!(
        failed,
        ["answered", "latency p99", "success", "amplification db"]
    );
    // Callers time out: retries outlast the 200ms deadline.
    let answered = verdict(&verdicts, "answered");
    assert!(answered.observed.unwrap() > 0.05, "{answered:?}");
    // The worst windows fall inside the fault (10s..20s).
    for label in ["answered", "latency p99", "success"] {
        let v = verdict(&verdicts, label);
        let w = v
            .worst_window
            .as_deref()
            .expect("a failed check names its worst window");
        let start: u64 = w.split("s..").next().unwrap().parse().unwrap();
        assert!((10..20).contains(&start), "{label}: worst window {w}");
    }
    // Nested retries multiply the load on the failing database.
    let amp = verdict(&verdicts, "amplification db");
    assert!(amp.observed.unwrap() > 2.0, "{amp:?}");
    // Once db answers again, the system is back to its baseline.
    assert!(verdict(&verdicts, "recovery").held);
    assert!(record.calls_to("db") > 2 * record.requests.len() as u64);
}

#[test]
fn every_other_scenario_meets_its_expectation() {
    // Subdirectories too: `regressions/` holds the schedules `squall explore`
    // found and shrank, each expected to fail.
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs = vec![scenarios_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= COVERED.len());
    for path in files {
        let name = path
            .strip_prefix(scenarios_dir())
            .expect("under scenarios/")
            .to_string_lossy()
            .into_owned();
        if COVERED.contains(&name.as_str()) {
            continue;
        }
        // A compose file's services run on Docker only (tests/docker/scenarios.rs):
        // the simulator refuses them at load.
        let loaded = scenario::load(&path).expect("scenario loads");
        if loaded.docker.compose.is_some() {
            let refused = squall::engine::BackendKind::Sim.check(&loaded);
            assert!(
                refused.is_err(),
                "{name}: the simulator ran a compose scenario"
            );
            continue;
        }
        let (scenario, _, verdicts) = run(&name);
        let held = verdicts.iter().all(|v| v.held);
        match scenario.expect {
            Expect::Pass => assert!(held, "{name} expects pass: {verdicts:#?}"),
            Expect::Fail => assert!(!held, "{name} expects fail but every invariant held"),
        }
    }
}
