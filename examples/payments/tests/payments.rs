//! The payments topology under faults, every service from this crate's code:
//! the mistaken card-api fails, naming the invariant; the fixed one holds;
//! the same seed writes the same report.json.

use payments::{simulation, Variant};

#[test]
fn the_inverted_ledger_timeout_fails_success() {
    let outcome = simulation(Variant::Mistaken)
        .expect("loads")
        .run()
        .expect("runs");
    let success = outcome.verdict("success").expect("judged");
    assert!(!success.held, "{}", outcome.lines());
    // What a failing test shows: squall run's lines, the seed, the replay.
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| outcome.assert_held()))
        .expect_err("a failed invariant panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("      FAILED  success"), "{text}");
    assert!(text.contains("        Seed  11"), "{text}");
    assert!(text.contains("SQUALL_SEED=11 cargo test"), "{text}");
}

#[test]
fn the_fixed_card_api_holds() {
    simulation(Variant::Fixed)
        .expect("loads")
        .run()
        .expect("runs")
        .assert_held();
}

#[test]
fn two_runs_of_one_seed_write_byte_identical_report_json() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut reports = Vec::new();
    for dir in &dirs {
        let outcome = simulation(Variant::Fixed)
            .expect("loads")
            .run()
            .expect("runs");
        outcome.write(dir.path()).expect("writes");
        reports.push(std::fs::read(dir.path().join("report.json")).expect("written"));
    }
    assert!(
        reports[0] == reports[1],
        "report.json differs between two runs of one seed"
    );
}
