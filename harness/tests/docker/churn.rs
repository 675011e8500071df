//! The engine stays responsive through many topologies coming and going.
//!
//! Docker 20.10 before 20.10.27 (Debian 12's `docker.io` among them) carries
//! a lock-order inversion in libnetwork: a container's endpoint leaving a
//! network (`getSvcRecords`: network lock, then controller lock) against the
//! deletion of another endpoint of the same network (`processEndpointDelete`:
//! controller lock, then network lock). Many endpoints leaving one network at
//! once, as a concurrent teardown or several kills together do, wedge the
//! engine's networking until dockerd restarts (docs/docker.md, "The engine
//! deadlock"). This test brings a ten-container topology up, kills three
//! instances at one instant, restarts another, pauses a third, heals and tears
//! it down, [`CYCLES`] times, and after every cycle checks that the network
//! API still answers in time.

use std::time::{Duration, Instant};

use squall::engine::RunOptions;

use crate::{assert_clean, engine_answers, rt, scenario, setup};

/// Up/fault/teardown cycles in one test (`SQUALL_CHURN_CYCLES` overrides,
/// for the longer runs recorded in docs/docker.md).
const CYCLES: usize = 30;

/// Ten instances; at 0.6 s three die at the same instant and one restarts,
/// at 1.2 s they come back, so each cycle has every kind of endpoint churn
/// (joins, leaves, deletes) on one network, then a whole teardown.
const CHURN: &str = r#"
duration = "2s"
workload = { target = "gateway", path = "/x", rate = 50, deadline = "300ms" }
[services.gateway]
replicas = 2
[services.gateway.endpoints."/x"]
calls = [{ to = "api", path = "/y", timeout = "200ms", retries = 1 }]
[services.api]
replicas = 2
[services.api.endpoints."/y"]
calls = [
  { to = "ledger", path = "/z", timeout = "50ms", retries = 1 },
  { to = "fraud", path = "/z", timeout = "50ms", required = false, group = 1 },
]
[services.ledger]
replicas = 3
[services.ledger.endpoints."/z"]
work = "1ms"
[services.fraud]
replicas = 2
[services.fraud.endpoints."/z"]
work = "1ms"
[services.merchant]
[services.merchant.endpoints."/z"]
work = "1ms"
[[faults]]
kind = "kill"
target = "ledger-1"
at = "600ms"
for = "600ms"
[[faults]]
kind = "kill"
target = "ledger-2"
at = "600ms"
for = "600ms"
[[faults]]
kind = "kill"
target = "fraud-1"
at = "600ms"
for = "600ms"
[[faults]]
kind = "restart"
target = "merchant-1"
at = "600ms"
[[faults]]
kind = "pause"
target = "api-2"
at = "600ms"
for = "600ms"
[[invariants]]
kind = "success"
min = 0.0
"#;

#[test]
fn the_engine_answers_after_thirty_topologies_come_and_go() {
    let _lock = setup();
    let cycles = std::env::var("SQUALL_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CYCLES);
    let scenario = scenario(CHURN);
    let opts = RunOptions::default();
    let started = Instant::now();
    for cycle in 1..=cycles {
        let t = Instant::now();
        let record = squall::docker::run(&scenario, &opts);
        let took = t.elapsed();
        if let Err(e) = &record {
            panic!("cycle {cycle} of {cycles} failed after {took:.1?}: {e}");
        }
        // The deadlock shows as a network API that never answers.
        if let Err(e) = rt().block_on(engine_answers(Duration::from_secs(10))) {
            panic!(
                "the engine's network API stopped answering after cycle {cycle} of {cycles}: {e}"
            );
        }
        eprintln!("churn: cycle {cycle}/{cycles} in {took:.1?}");
    }
    eprintln!(
        "churn: {cycles} cycles of 10 containers in {:.1?}, the engine answered after each",
        started.elapsed()
    );
    rt().block_on(assert_clean(None));
}
