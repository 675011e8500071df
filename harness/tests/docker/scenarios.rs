//! Every scenario file in `scenarios/` (subfolders too) on real containers:
//! the verdict its `expect` declares on both backends, and the same verdict
//! for each invariant in the simulator and on Docker.
//!
//! The table below ([`CASES`]) has one entry per file, and one test per entry
//! (named after the scenario, so a failure names it);
//! `every_scenario_file_has_a_case` walks `scenarios/` on disk and fails on a
//! file without an entry, so a new scenario cannot be left out. Each entry
//! shortens the run with a `--duration` that keeps every fault and its heal,
//! plus a recovery window (CI time on two cores; `just docker-full` runs them
//! at full length); the table test checks that too. An invariant whose
//! verdict legitimately differs between the backends is named in its entry
//! with the figures and the reason, and in docs/docker.md; none does today.
//!
//! deep-chain-deadline and deep-chain-no-deadline judge `wasted_work`, from
//! the spans the Docker backend reads back from the containers, and deadline
//! propagation, from the `squall-deadline` header the workload driver sends:
//! their entries ask for full agreement, as every other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use squall::engine::RunOptions;
use squall::scenario::{Expect, Scenario};

use crate::{assert_clean, rt, setup};

/// How the Docker test runs one scenario file.
struct Case {
    /// Path under `scenarios/`.
    file: &'static str,
    /// The shortened load phase, in seconds.
    secs: u64,
    /// Invariants (by label) whose verdict may differ between the backends,
    /// each with the figures on both and why. Empty: every verdict agrees.
    differs: &'static [(&'static str, &'static str)],
}

/// Declares the table and one test per entry.
macro_rules! cases {
    ($($test:ident: $file:literal, $secs:literal s, [$($label:literal => $why:literal),* $(,)?];)*) => {
        /// One entry per scenario file.
        const CASES: &[Case] = &[
            $(Case { file: $file, secs: $secs, differs: &[$(($label, $why)),*] },)*
        ];
        $(
            #[test]
            fn $test() {
                agree($file);
            }
        )*
    };
}

// Fault windows in the comments are the files' own; durations end the
// recovery window at least `squall::engine::MIN_RECOVERY` (or the `recovery` invariant's
// `within`) after the last heal.
cases! {
    // kill ledger-1 10s..30s, latency fraud-2 15s..25s; recovery within 5s.
    card_auth: "card-auth.toml", 35 s, [];
    // partition search | merchant 10s..20s; recovery within 3s.
    search_degrade: "search-degrade.toml", 25 s, [];
    // error db 10s..20s; recovery within 5s.
    retry_storm: "retry-storm.toml", 25 s, [];
    // kill audit-1 4s..8s.
    overlap_weakness: "overlap-weakness.toml", 10 s, [];
    // kill audit-1 4s..8s, pause db-1 11.9s..12.9s, pause db-2 12.8s..13.8s.
    regressions_overlap_weakness_seed5_case4: "regressions/overlap-weakness-seed5-case4.toml", 16 s, [];
    // latency db 5s..15s.
    deep_chain_deadline: "deep-chain-deadline.toml", 17 s, [];
    deep_chain_no_deadline: "deep-chain-no-deadline.toml", 17 s, [];
    // error ledger-1 5s..15s; recovery within 3s.
    fail_fast_breaker: "fail-fast-breaker.toml", 18 s, [];
    fail_fast_no_breaker: "fail-fast-no-breaker.toml", 18 s, [];
    // error db 5s..15s.
    retry_budget: "retry-budget.toml", 17 s, [];
    retry_budget_none: "retry-budget-none.toml", 17 s, [];
    // latency stock-2 5s..15s.
    slow_replica_round_robin: "slow-replica-round-robin.toml", 17 s, [];
    slow_replica_p2c: "slow-replica-p2c.toml", 17 s, [];
    slow_replica_epsilon_greedy: "slow-replica-epsilon-greedy.toml", 17 s, [];
    slow_replica_hedge: "slow-replica-hedge.toml", 17 s, [];
    // Docker only (a compose file): kill web-1 5s..10s; recovery within 5s.
    compose_web_kill: "compose/web-kill.toml", 15 s, [];
    // Docker only: error web-1 4s..10s (the proxy answers 503).
    compose_web_error: "compose/web-error.toml", 12 s, [];
    compose_web_error_no_retry: "compose/web-error-no-retry.toml", 12 s, [];
    // Docker only: HAProxy in front of fixture replicas; kill ledger-1
    // 5s..10s; recovery within 5s.
    compose_haproxy_retry: "compose/haproxy-retry.toml", 15 s, [];
    compose_haproxy_no_retry: "compose/haproxy-no-retry.toml", 15 s, [];
}

/// Scenario files the Docker table leaves out, each with why; the simulator
/// tests (`tests/scenarios.rs`) still run them against their `expect`.
const SIMULATOR_ONLY: &[(&str, &str)] = &[(
    "storefront-108.toml",
    "108 containers on one two-core machine: measured on Docker at 9 s, setup took 47 s and \
     every request failed with the gateway's 502 at its 200 ms timeout (api received 642 of \
     1,854 calls) while each instance answered its health check in under 1 ms; not yet \
     explained (see the note), so it is not a verdict to compare",
)];

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn case(file: &str) -> &'static Case {
    CASES
        .iter()
        .find(|c| c.file == file)
        .unwrap_or_else(|| panic!("no case for {file}"))
}

fn load(file: &str) -> Scenario {
    squall::scenario::load(&scenarios_dir().join(file)).unwrap()
}

/// Every `.toml` under `dir`, as paths relative to it with `/`.
fn files(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".toml") {
            out.insert(format!("{prefix}{name}"));
        }
    }
}

#[test]
fn every_scenario_file_has_a_case() {
    let mut on_disk = BTreeSet::new();
    files(&scenarios_dir(), "", &mut on_disk);
    let in_table: BTreeSet<String> = CASES.iter().map(|c| c.file.to_owned()).collect();
    let left_out: BTreeSet<String> = SIMULATOR_ONLY
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    let missing: Vec<_> = on_disk
        .difference(&in_table)
        .filter(|f| !left_out.contains(*f))
        .collect();
    assert!(
        left_out.is_subset(&on_disk) && left_out.is_disjoint(&in_table),
        "SIMULATOR_ONLY names a file that is not on disk or is also in CASES"
    );
    let stale: Vec<_> = in_table.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "scenarios without an entry in CASES (harness/tests/docker/scenarios.rs): {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "entries in CASES without a file: {stale:?}"
    );
    assert_eq!(in_table.len(), CASES.len(), "a file appears twice in CASES");
    for c in CASES {
        let scenario = load(c.file);
        let duration = Duration::from_secs(c.secs);
        let full = squall::fault::plan(&scenario, scenario.seed, scenario.duration);
        let short = squall::fault::plan(&scenario, scenario.seed, duration);
        assert_eq!(
            full.len(),
            short.len(),
            "{}: {}s leaves faults out",
            c.file,
            c.secs
        );
        let last_heal = short
            .iter()
            .map(|f| {
                f.end
                    .unwrap_or_else(|| panic!("{}: a fault never heals in {}s", c.file, c.secs))
            })
            .max()
            .unwrap_or_default();
        let recovery = squall::engine::recovery_window(&scenario);
        assert!(
            duration >= last_heal + recovery,
            "{}: {}s ends less than {recovery:?} after the last heal at {last_heal:?}",
            c.file,
            c.secs
        );
    }
}

/// Each invariant's label and whether it held.
type Verdicts = Vec<(String, bool)>;

/// Runs `file` with the same options on both backends; returns (sim
/// verdicts, docker verdicts) after printing every invariant's message.
fn both(file: &str, duration: Duration) -> (Verdicts, Verdicts) {
    let scenario = load(file);
    let opts = RunOptions {
        duration: Some(duration),
        ..Default::default()
    };
    let verdicts = |record: &squall::record::RunRecord| {
        squall::invariant::evaluate(&scenario, record)
            .into_iter()
            .map(|v| {
                eprintln!(
                    "  {:6} {:>6}  {}  {}",
                    record.backend,
                    if v.held { "HELD" } else { "FAILED" },
                    v.label,
                    v.message
                );
                (v.label, v.held)
            })
            .collect::<Vec<_>>()
    };
    let clock = Instant::now();
    let sim = verdicts(&squall::sim::run(&scenario, &opts).unwrap());
    let sim_wall = clock.elapsed();
    let clock = Instant::now();
    let mut docker = verdicts(&squall::docker::run(&scenario, &opts).unwrap());
    // Real time on two shared cores: a verdict near its margin can flip
    // (docs/docker.md measured such rates). A disagreement gets one more
    // Docker run, and the first one's figures stay above in the output; a
    // difference that is real disagrees twice.
    if docker != sim {
        eprintln!("  {file}: the Docker verdicts differ from the simulator's; running it on Docker once more");
        docker = verdicts(&squall::docker::run(&scenario, &opts).unwrap());
    }
    eprintln!(
        "  {file} for {duration:?}: sim {:.1}s, docker {:.1}s wall",
        sim_wall.as_secs_f64(),
        clock.elapsed().as_secs_f64()
    );
    let expect_pass = scenario.expect == Expect::Pass;
    assert_eq!(
        sim.iter().all(|(_, h)| *h),
        expect_pass,
        "{file} in the simulator: expected {:?}",
        scenario.expect
    );
    assert_eq!(
        docker.iter().all(|(_, h)| *h),
        expect_pass,
        "{file} on docker: expected {:?}",
        scenario.expect
    );
    (sim, docker)
}

/// The test of one entry: both backends meet `expect`, and every invariant
/// not named in the entry's `differs` gets the same verdict on both.
fn agree(file: &str) {
    let _lock = setup();
    let c = case(file);
    if load(file).docker.compose.is_some() {
        return docker_only(file, Duration::from_secs(c.secs));
    }
    let (sim, docker) = both(file, Duration::from_secs(c.secs));
    let labels = |v: &Verdicts| v.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
    assert_eq!(
        labels(&sim),
        labels(&docker),
        "{file}: different invariants"
    );
    for (label, _) in c.differs {
        assert!(
            labels(&sim).iter().any(|l| l == label),
            "{file}: the table names no invariant of the scenario: `{label}`"
        );
    }
    let differ: Vec<&str> = sim
        .iter()
        .zip(&docker)
        .filter(|((label, s), (_, d))| s != d && !c.differs.iter().any(|(l, _)| l == label))
        .map(|((label, _), _)| label.as_str())
        .collect();
    assert!(
        differ.is_empty(),
        "{file}: verdicts differ between the backends for {differ:?}\n  sim:    {sim:?}\n  docker: {docker:?}"
    );
    rt().block_on(assert_clean(None));
}

/// A scenario with services from a compose file: the simulator has no model
/// of their images, so only Docker runs it, and it must meet `expect`.
fn docker_only(file: &str, duration: Duration) {
    crate::compose::busybox_image();
    crate::compose::haproxy_image();
    let was = rt().block_on(crate::leftovers(None));
    let scenario = load(file);
    let opts = RunOptions {
        duration: Some(duration),
        ..Default::default()
    };
    let record = squall::docker::run(&scenario, &opts).unwrap();
    let verdicts = squall::invariant::evaluate(&scenario, &record);
    for v in &verdicts {
        eprintln!(
            "  docker {:>6}  {}  {}",
            if v.held { "HELD" } else { "FAILED" },
            v.label,
            v.message
        );
    }
    assert_eq!(
        verdicts.iter().all(|v| v.held),
        scenario.expect == Expect::Pass,
        "{file} on docker: expected {:?}",
        scenario.expect
    );
    let added: Vec<String> = rt()
        .block_on(crate::leftovers(None))
        .into_iter()
        .filter(|l| !was.contains(l))
        .collect();
    assert!(
        added.is_empty(),
        "{file} left this on the engine: {added:#?}"
    );
}
