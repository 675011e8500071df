//! The Docker backend's own costs, measured in one run against the real engine:
//!
//! 1. **Fault actuation latency**: from a fault change's scheduled instant to
//!    the engine (or nft, or the proxy) confirming it, over 60 changes of six
//!    kinds (pause, kill+start, partition, loss, latency, error), p50/p99.
//! 2. **Load driver against `wrk`** on the same fixture container: the
//!    driver's highest sustained open-loop rate against wrk's closed-loop
//!    maximum (64 connections), and the driver's median latency at a light
//!    rate against wrk's on one connection, as ratios.
//!
//! ```text
//! just docker-bench     # cargo bench -p squall --bench docker_actuation
//! ```

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use squall::docker::journal::Journal;
use squall::docker::run::{new_run_id, specs};
use squall::docker::session::Session;
use squall::engine::Desired;
use squall::fault::{Effect, WORKLOAD_HOST};
use squall::record::Outcome;
use squall::scenario::Scenario;
use squall_fixture::{HttpClient, Tokio};
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

/// wrk's requests/s and median latency.
fn wrk(url: &str, threads: u32, connections: u32, seconds: u32) -> Option<(f64, Duration)> {
    let out = Command::new("wrk")
        .args([
            "--latency",
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            url,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // A rate made of errors would flatter wrk: say so.
    for line in text.lines().map(str::trim) {
        if line.starts_with("Non-2xx") || line.starts_with("Socket errors") {
            println!("  wrk -t{threads} -c{connections}: {line}");
        }
    }
    let rate = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let p50 = text
        .lines()
        .find(|l| l.trim_start().starts_with("50%"))?
        .split_whitespace()
        .nth(1)?;
    let (n, unit) = p50.split_at(p50.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        _ => return None,
    };
    Some((rate, Duration::from_secs_f64(secs)))
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

        // The driver against wrk, on b-1 (not behind the proxy).
        let b_w = s.authority("b-1").unwrap();
        let url = format!("http://{b_w}/y");
        println!("load driver against wrk on {url}:");
        match (wrk(&url, 2, 64, 5), wrk(&url, 1, 1, 5)) {
            (Some((wrk_max, _)), Some((_, wrk_p50))) => {
                // The light rate first: the sweep below ends by overloading b-1.
                let (_, light_p50) = driver_at_path(&scenario, &b_w, 200.0, 5).await;
                println!(
                    "  median latency: driver at 200 req/s {:.3}ms, wrk on one connection {:.3}ms; ratio {:.2}",
                    ms(light_p50),
                    ms(wrk_p50),
                    light_p50.as_secs_f64() / wrk_p50.as_secs_f64()
                );
                let mut sustained = 0.0;
                let mut rate = 1000.0;
                while rate <= 32_000.0 {
                    let (ok, _) = driver_at_path(&scenario, &b_w, rate, 3).await;
                    if ok < 0.99 {
                        break;
                    }
                    sustained = rate;
                    rate *= 1.25;
                }
                println!(
                    "  wrk max (2 threads, 64 connections): {wrk_max:.0} req/s; driver sustained (>= 99% ok in 1s): {sustained:.0} req/s; ratio {:.2}",
                    sustained / wrk_max
                );
            }
            _ => println!("  wrk is not installed (apt-get install wrk): no comparison"),
        }
        // Let the overloaded instance drain before removing it.
        tokio::time::sleep(Duration::from_secs(3)).await;
        s.heal_all().await.unwrap();
        // What the overload left in b-1's namespace: removal has been seen to
        // take minutes after the sweep.
        if let Some(pid) = s.pid("b-1") {
            let ss = Command::new("nsenter")
                .args(["-t", &pid.to_string(), "-n", "ss", "-s"])
                .output();
            if let Ok(o) = ss {
                let text = String::from_utf8_lossy(&o.stdout);
                if let Some(line) = text.lines().find(|l| l.starts_with("TCP:")) {
                    println!("  b-1's sockets before teardown: {line}");
                }
            }
        }
        let teardown = Instant::now();
        match s.teardown().await {
            Ok(()) => println!("teardown (containers and network removed): {:.2}s", teardown.elapsed().as_secs_f64()),
            Err(e) => eprintln!("error: {e} (hint: `squall heal --run {run}`)"),
        }
    });
}

/// The driver at `rate` for `seconds` on `/y`: (fraction answered ok in time, p50 latency).
async fn driver_at_path(
    scenario: &Scenario,
    authority: &str,
    rate: f64,
    seconds: u64,
) -> (f64, Duration) {
    use squall::engine::backend::Load;
    use squall::engine::collect::{Answers, Collector};
    let duration = Duration::from_secs(seconds);
    let services = squall::fault::instances(scenario);
    let instances = services.values().flatten().cloned().collect();
    let figures = squall::invariant::Figures::new(scenario, duration, &[], &services);
    let deadline = Duration::from_secs(1);
    let answers = Answers::new(Collector::new(figures, instances, deadline, true));
    let load = Load {
        targets: vec![authority.to_owned()],
        path: "/y".to_owned(),
        deadline,
        schedule: squall::workload::Arrivals::new(
            rate,
            squall::scenario::Arrival::Constant,
            duration,
            1,
        ),
        answers: answers.clone(),
    };
    let start = Instant::now() + Duration::from_millis(100);
    let stop = Arc::new(AtomicBool::new(false));
    squall::engine::load::drive(
        HttpClient::<Tokio>::new(),
        load,
        vec![authority.to_owned()],
        start,
        stop,
        squall::engine::load::Threads,
    )
    .await;
    let records = answers
        .into_inner()
        .expect("the driver is done")
        .finish(Vec::new())
        .requests;
    let ok = records.iter().filter(|r| r.outcome == Outcome::Ok).count() as f64
        / records.len().max(1) as f64;
    let mut lat: Vec<Duration> = records.iter().map(|r| r.latency).collect();
    lat.sort();
    (ok, pct(&lat, 50.0))
}
