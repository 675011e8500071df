//! The Docker backend's own cost, measured against the real engine: **fault
//! actuation latency**, from a fault change's scheduled instant to the
//! engine (or nft, or the proxy) confirming it, over 60 changes of six kinds
//! (pause, kill+start, partition, loss, latency, error), p50/p99.
//!
//! The load driver against `wrk` is `benches/load_driver.rs`.
//!
//! ```text
//! just docker-bench     # cargo bench -p squall --bench docker_actuation
//! ```

use std::path::Path;
use std::time::Duration;

use squall::docker::journal::Journal;
use squall::docker::run::{new_run_id, specs};
use squall::docker::session::Session;
use squall::engine::Desired;
use squall::fault::{Effect, WORKLOAD_HOST};
use tokio::time::Instant;

const PAIR: &str = r#"
duration = "10s"
workload = { target = "a", path = "/w", rate = 10, deadline = "1s" }
[services.a]
[services.a.endpoints."/x"]
calls = [{ to = "b", path = "/y", timeout = "200ms" }]
[services.a.endpoints."/w"]
work = "0ms"
[services.b]
[services.b.endpoints."/y"]
work = "0ms"
"#;

/// Rounds of each fault kind (6 kinds: 60 changes injected, 60 healed).
const ROUNDS: usize = 10;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (cargo test's listing) is ignored.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let binary = squall::docker::image::build_static_fixture(workspace).expect("static fixture");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (docker, _) = squall::docker::connect().await.expect("a Docker engine");
        squall::docker::image::build(&docker, &binary).await.expect("the fixture image");
        let scenario = squall::scenario::parse(PAIR, Path::new("bench.toml")).unwrap();
        let run = new_run_id();
        let link = ("a-1".to_owned(), WORKLOAD_HOST.to_owned());
        let mut s = Session::create(docker, &run, Journal::create(&run).unwrap(), specs(&scenario, 1).unwrap(), vec![link.clone()], Default::default())
            .await
            .expect("the bench topology");
        let kinds: [(&str, Vec<Effect>); 6] = [
            ("pause", vec![Effect::Pause("b-1".into())]),
            ("kill", vec![Effect::Down("b-1".into())]),
            ("partition", vec![Effect::Cut { from: "a-1".into(), to: "b-1".into() }]),
            ("loss", vec![Effect::Loss { a: "a-1".into(), b: "b-1".into(), ppm: 100_000 }]),
            ("latency", vec![Effect::Delay { a: link.0.clone(), b: link.1.clone(), delay: Duration::from_millis(10), jitter: Duration::ZERO }]),
            ("error", vec![Effect::Error { instance: "b-1".into(), status: 503, ppm: 500_000 }]),
        ];
        let mut all = Vec::new();
        println!("fault actuation latency (scheduled -> confirmed), {ROUNDS} injections and {ROUNDS} heals per kind:");
        for (kind, effects) in &kinds {
            let mut inject = Vec::new();
            let mut heal = Vec::new();
            for _ in 0..ROUNDS {
                let at = Instant::now() + Duration::from_millis(20);
                tokio::time::sleep_until(at).await;
                s.reconcile(&Desired::of(effects), &[], at).await.expect("inject");
                inject.push(Instant::now() - at);
                let at = Instant::now() + Duration::from_millis(20);
                tokio::time::sleep_until(at).await;
                s.heal_all().await.expect("heal");
                heal.push(Instant::now() - at);
            }
            inject.sort();
            heal.sort();
            println!(
                "  {kind:>10}  inject p50 {:7.2}ms p99 {:7.2}ms   heal p50 {:7.2}ms p99 {:7.2}ms",
                ms(pct(&inject, 50.0)),
                ms(pct(&inject, 99.0)),
                ms(pct(&heal, 50.0)),
                ms(pct(&heal, 99.0))
            );
            all.extend(inject);
            all.extend(heal);
        }
        all.sort();
        println!(
            "  {:>10}  {} changes: p50 {:.2}ms, p99 {:.2}ms",
            "all",
            all.len(),
            ms(pct(&all, 50.0)),
            ms(pct(&all, 99.0))
        );

        let teardown = Instant::now();
        match s.teardown().await {
            Ok(()) => println!("teardown (containers and network removed): {:.2}s", teardown.elapsed().as_secs_f64()),
            Err(e) => eprintln!("error: {e} (hint: `squall heal --run {run}`)"),
        }
    });
}
