//! The resilience patterns, each shown to matter: a pair of scenarios with the
//! same topology, faults and seed, where the naive setting fails a named
//! invariant and the resilient one holds every invariant. The figures asserted
//! here are the ones docs/resilience.md quotes.

use std::path::{Path, PathBuf};

use squall::engine::RunOptions;
use squall::invariant::{evaluate, Verdict};
use squall::record::{AttemptOutcome, RunRecord};
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

fn failed(verdicts: &[Verdict]) -> Vec<&str> {
    verdicts
        .iter()
        .filter(|v| !v.held)
        .map(|v| v.label.as_str())
        .collect()
}

/// The naive scenario expects to fail and fails exactly `labels`.
fn naive(name: &str, labels: &[&str]) -> (Scenario, RunRecord, Vec<Verdict>) {
    let (scenario, record, verdicts) = run(name);
    assert_eq!(scenario.expect, Expect::Fail, "{name}");
    assert_eq!(failed(&verdicts), labels, "{name}: {verdicts:#?}");
    (scenario, record, verdicts)
}

/// The resilient scenario expects to pass and holds every invariant.
fn resilient(name: &str) -> (Scenario, RunRecord, Vec<Verdict>) {
    let (scenario, record, verdicts) = run(name);
    assert_eq!(scenario.expect, Expect::Pass, "{name}");
    assert!(failed(&verdicts).is_empty(), "{name}: {verdicts:#?}");
    (scenario, record, verdicts)
}

/// Both files of a pair differ only in the policy: same faults, same seed.
fn same_faults_and_seed(a: &Scenario, b: &Scenario) {
    let faults = |s: &Scenario| {
        s.faults
            .iter()
            .map(|f| (f.kind.clone(), f.at, f.until))
            .collect::<Vec<_>>()
    };
    assert_eq!(faults(a), faults(b));
    assert_eq!(a.seed, b.seed);
    assert_eq!(a.workload, b.workload);
}

#[test]
fn a_slow_replica_fails_p99_with_round_robin_and_holds_it_with_p2c_epsilon_greedy_or_hedging() {
    let (rr, _, rr_verdicts) = naive("slow-replica-round-robin.toml", &["latency p99"]);
    let p99 = verdict(&rr_verdicts, "latency p99").observed.unwrap();
    assert!(
        p99 > 100.0,
        "round-robin p99 {p99}ms: a third of calls wait for stock-2"
    );
    for name in [
        "slow-replica-p2c.toml",
        "slow-replica-epsilon-greedy.toml",
        "slow-replica-hedge.toml",
    ] {
        let (scenario, record, verdicts) = resilient(name);
        same_faults_and_seed(&rr, &scenario);
        let p99 = verdict(&verdicts, "latency p99").observed.unwrap();
        assert!(p99 < 30.0, "{name}: p99 {p99}ms");
        if name == "slow-replica-hedge.toml" {
            // Hedges went out, to another replica than the slow leg's, and the
            // losers were cancelled.
            let attempts: Vec<_> = record
                .traces
                .iter()
                .flatten()
                .flat_map(|h| &h.attempts)
                .collect();
            let hedges: Vec<_> = attempts.iter().filter(|a| a.hedge).collect();
            assert!(hedges.len() > 300, "{} hedges", hedges.len());
            let cancelled = attempts
                .iter()
                .filter(|a| a.outcome == AttemptOutcome::Cancelled)
                .count();
            assert!(cancelled > 300, "{cancelled} cancelled legs");
            for hops in &record.traces {
                for hop in hops {
                    let mut legs: Vec<_> = hop.attempts.iter().map(|a| a.to.as_str()).collect();
                    legs.dedup();
                    assert_eq!(
                        legs.len(),
                        hop.attempts.len(),
                        "a hedge went to the same replica: {hop:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_replica_failing_fast_keeps_errors_high_without_a_breaker_and_not_with_one() {
    let (plain, _, plain_verdicts) = naive("fail-fast-no-breaker.toml", &["success"]);
    let success = verdict(&plain_verdicts, "success").observed.unwrap();
    assert!((0.6..0.7).contains(&success), "no breaker: {success}");
    let (scenario, record, verdicts) = resilient("fail-fast-breaker.toml");
    same_faults_and_seed(&plain, &scenario);
    assert!(verdict(&verdicts, "success").observed.unwrap() > 0.99);
    // The errors come at the start of the fault (3 per api instance) and one
    // per failed half-open probe every 2s: after the first second of the fault
    // there are at most a few per second.
    let report = Report::build(&scenario, &record, verdicts);
    let late: u64 = report.per_second[6..15]
        .iter()
        .map(|s| s.summary.errors)
        .sum();
    let first = report.per_second[5].summary.errors;
    assert!(
        first >= 6,
        "the breakers open after 3 failures each: {first}"
    );
    assert!(late <= 12, "probes only, 2 api instances every 2s: {late}");
}

#[test]
fn a_deep_chain_wastes_work_and_times_out_without_deadlines_and_not_with_them() {
    let (plain, plain_record, plain_verdicts) = naive(
        "deep-chain-no-deadline.toml",
        &["answered", "success", "wasted work"],
    );
    let wasted = plain_record.work(None);
    assert!(wasted.wasted_ratio() > 0.2, "{wasted:?}");
    assert!(verdict(&plain_verdicts, "answered").observed.unwrap() > 0.5);
    // The waste is at db: retries that reach it after core gave up.
    assert_eq!(plain_record.work(Some("db")).wasted, wasted.wasted);

    let (scenario, record, verdicts) = resilient("deep-chain-deadline.toml");
    same_faults_and_seed(&plain, &scenario);
    let work = record.work(None);
    assert!(work.wasted_ratio() < 0.001, "{work:?}");
    assert_eq!(verdict(&verdicts, "answered").observed, Some(0.0));
    // db refused the late retries instead of working for nobody.
    let refused = record
        .traces
        .iter()
        .flatten()
        .filter(|h| {
            h.note == Some("no time left") || h.note == Some("work would miss the deadline")
        })
        .count();
    assert!(refused > 100, "{refused} refusals");
}

#[test]
fn retries_without_a_budget_amplify_load_past_the_bound_and_a_budget_keeps_it_under() {
    let (plain, _, plain_verdicts) = naive("retry-budget-none.toml", &["amplification db"]);
    let amp = verdict(&plain_verdicts, "amplification db")
        .observed
        .unwrap();
    assert!(amp > 2.0, "no budget: {amp}");
    let (scenario, record, verdicts) = resilient("retry-budget.toml");
    same_faults_and_seed(&plain, &scenario);
    let amp = verdict(&verdicts, "amplification db").observed.unwrap();
    assert!(amp < 1.2, "budget: {amp}");
    let refused = record
        .traces
        .iter()
        .flatten()
        .flat_map(|h| &h.attempts)
        .filter(|a| a.outcome == AttemptOutcome::NoBudget)
        .count();
    assert!(refused > 1000, "{refused} retries refused by the budget");
}

#[test]
fn every_request_has_a_trace_and_the_report_names_the_slowest() {
    let (scenario, record, verdicts) = run("slow-replica-round-robin.toml");
    assert_eq!(record.traces.len(), record.requests.len());
    // Every request reached shop and, through it, stock.
    for (i, hops) in record.traces.iter().enumerate() {
        assert_eq!(hops.len(), 2, "request {i}: {hops:?}");
        assert!(hops[0].instance.starts_with("shop-") && hops[0].parent.is_none());
        let attempt = &hops[0].attempts[0];
        assert_eq!(
            hops[1].parent.as_deref(),
            Some(format!("{}#{}", hops[0].instance, attempt.id).as_str())
        );
        assert_eq!(&*hops[1].instance, attempt.to);
    }
    let report = Report::build(&scenario, &record, verdicts);
    assert_eq!(report.slowest.len(), 10);
    let slowest = &report.slowest[0];
    assert!(
        slowest.hops.iter().any(|h| h.instance == "stock-2"),
        "{slowest:?}"
    );
    let json = report.to_json();
    assert!(json.contains("\"slowest\"") && json.contains("\"wasted_ms\""));
    let summary = squall::report::summary::render(&report);
    assert!(summary.contains("## Slowest requests") && summary.contains("`stock-2`"));
}
