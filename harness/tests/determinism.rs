//! The determinism self-check: one scenario and seed, run twice, gives a
//! byte-identical `report.json` and `report.html`; another seed gives another.
//!
//! Runs on threads of one process are checked by `threads.rs`.

use std::path::Path;

use squall::engine::RunOptions;
use squall::invariant::evaluate;
use squall::report::Report;
use squall::scenario;

#[test]
fn the_same_seed_writes_byte_identical_reports_and_another_seed_does_not() {
    let scenario = scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join("card-auth.toml"),
    )
    .unwrap();
    let report = |seed: u64| {
        let opts = RunOptions {
            seed: Some(seed),
            // Long enough to cover both faults' starts (10s, 15s).
            duration: Some(std::time::Duration::from_secs(16)),
            ..RunOptions::default()
        };
        let record = squall::sim::run(&scenario, &opts).unwrap();
        let report = Report::build(&scenario, &record, evaluate(&scenario, &record));
        (report.to_json(), squall::report::html::render(&report))
    };
    let (json, html) = report(1);
    let (again_json, again_html) = report(1);
    assert_eq!(json, again_json, "same seed, different report.json");
    assert_eq!(html, again_html, "same seed, different report.html");
    let (other_json, other_html) = report(2);
    assert_ne!(json, other_json, "another seed gave the same report.json");
    assert_ne!(html, other_html, "another seed gave the same report.html");
}
