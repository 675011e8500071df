//! The payments services on Docker, from the static image `payments::image`
//! builds offline: each variant gets the verdicts it gets in the simulator.
//! Needs a Docker engine and root, like squall's own Docker tests; without
//! them this test FAILS, it never skips.

use payments::{on_docker, simulation, Variant};

/// Each invariant's label and whether it held.
fn verdicts(outcome: &squall::service::Outcome) -> Vec<(String, bool)> {
    outcome
        .verdicts()
        .iter()
        .map(|v| (v.label.clone(), v.held))
        .collect()
}

#[test]
fn on_docker_each_variant_gets_the_simulators_verdicts() {
    if let Err(e) = payments::image::build() {
        panic!("this test needs a reachable Docker engine to build the payments images: {e}");
    }
    for variant in [Variant::Mistaken, Variant::Fixed] {
        let simulated = simulation(variant).expect("loads").run().expect("runs");
        let real = on_docker(variant)
            .expect("loads")
            .run_on_docker()
            .expect("runs on Docker");
        println!("{variant:?} in the simulator:\n{}", simulated.lines());
        println!("{variant:?} on Docker:\n{}", real.lines());
        assert_eq!(
            verdicts(&real),
            verdicts(&simulated),
            "{variant:?}: Docker's verdicts are not the simulator's\non Docker:\n{}\nin the simulator:\n{}",
            real.lines(),
            simulated.lines()
        );
        // Measured on Docker as in the simulator, not "not measured".
        for label in ["amplification ledger", "wasted work"] {
            let v = real.verdict(label).expect("judged");
            assert!(
                !v.message.contains("not measured"),
                "{label}: {}",
                v.message
            );
        }
    }
    assert_clean();
}

/// Nothing of squall's is left on the engine: no container, no network.
fn assert_clean() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let left = runtime.block_on(async {
        let (docker, _) = squall::docker::connect().await.expect("the engine answers");
        let containers = squall::docker::container::list(&docker, None)
            .await
            .expect("lists containers");
        let networks = squall::docker::heal::networks(&docker, None)
            .await
            .expect("lists networks");
        (containers.len(), networks.len())
    });
    assert_eq!(
        left,
        (0, 0),
        "squall left (containers, networks) on the engine"
    );
}
