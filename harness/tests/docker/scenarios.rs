//! The example scenarios on real containers: the same verdicts as in the
//! simulator. Runs are shortened with a duration that keeps every fault and
//! its heal, plus a short recovery window (CI time on two cores); `just
//! docker-full` runs them at full length.

use std::path::Path;
use std::time::Duration;

use squall::engine::RunOptions;
use squall::scenario::Expect;

use crate::{assert_clean, rt, setup};

/// Each invariant's label and whether it held.
type Verdicts = Vec<(String, bool)>;

/// Runs `file` for `duration` on both backends; returns (sim verdicts, docker verdicts).
fn both(file: &str, duration: Duration) -> (Verdicts, Verdicts) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    let scenario = squall::scenario::load(&path).unwrap();
    let opts = RunOptions {
        duration: Some(duration),
        ..Default::default()
    };
    let verdicts = |record: &squall::record::RunRecord| {
        squall::invariant::evaluate(&scenario, record)
            .into_iter()
            .map(|v| {
                eprintln!(
                    "  {:5} {:>6}  {}  {}",
                    record.backend,
                    if v.held { "HELD" } else { "FAILED" },
                    v.label,
                    v.message
                );
                (v.label, v.held)
            })
            .collect::<Vec<_>>()
    };
    let sim = verdicts(&squall::sim::run(&scenario, &opts).unwrap());
    let docker = verdicts(&squall::docker::run(&scenario, &opts).unwrap());
    let expect_pass = scenario.expect == Expect::Pass;
    let passed = docker.iter().all(|(_, held)| *held);
    assert_eq!(
        passed, expect_pass,
        "{file} on docker: expected {:?}",
        scenario.expect
    );
    assert_eq!(
        sim.iter().all(|(_, h)| *h),
        expect_pass,
        "{file} in the simulator"
    );
    (sim, docker)
}

#[test]
fn card_auth_passes_on_docker() {
    let _lock = setup();
    // Faults at 10s..30s and 15s..25s; 35s leaves 5s of recovery.
    let (sim, docker) = both("card-auth.toml", Duration::from_secs(35));
    assert_eq!(sim, docker, "verdicts differ between the backends");
    rt().block_on(assert_clean(None));
}

#[test]
fn search_degrade_passes_on_docker() {
    let _lock = setup();
    let (sim, docker) = both("search-degrade.toml", Duration::from_secs(25));
    assert_eq!(sim, docker, "verdicts differ between the backends");
    rt().block_on(assert_clean(None));
}

#[test]
fn retry_storm_fails_on_docker() {
    let _lock = setup();
    let (sim, docker) = both("retry-storm.toml", Duration::from_secs(25));
    let held = |v: &[(String, bool)], label: &str| {
        v.iter().find(|(l, _)| l.starts_with(label)).map(|x| x.1)
    };
    // The storm itself: db amplified beyond its bound on both backends.
    assert_eq!(held(&docker, "amplification"), Some(false));
    assert_eq!(held(&sim, "amplification"), Some(false));
    rt().block_on(assert_clean(None));
}
