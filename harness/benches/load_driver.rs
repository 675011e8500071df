//! The workload driver on real time against `wrk` (and `wrk2` when it is
//! installed), all on the same fixture container in one run:
//!
//! 1. **Latency overhead** at a light rate (200 requests/s, one target): the
//!    driver's median and p99 against wrk's on one connection (closed loop,
//!    the least a request can cost on this machine) and, when present,
//!    wrk2's at the same constant rate (open loop, corrected for coordinated
//!    omission like the driver).
//! 2. **Sustained rate**: the highest rate the driver keeps (at least 99% of
//!    requests answered 200 within the deadline, at most 1% sent behind
//!    schedule) against wrk's closed-loop maximum (2 threads, 64
//!    connections).
//! 3. **Behind schedule**: a rate past what the driver can keep, to show the
//!    run says so.
//!
//! ```text
//! cargo bench -p squall --bench load_driver
//! ```
//!
//! `SQUALL_BENCH_SECONDS` sets each driver run's length (default 5 s).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use squall::docker::journal::Journal;
use squall::docker::run::{new_run_id, specs};
use squall::docker::session::Session;
use squall::engine::backend::Load;
use squall::engine::collect::{Answers, Collector};
use squall::record::Outcome;
use squall::scenario::{Arrival, Scenario};
use squall::workload::{Arrivals, Behind};
use tokio::time::Instant;

const ONE: &str = r#"
duration = "10s"
workload = { target = "b", path = "/y", rate = 10, deadline = "1s" }
[services.b]
[services.b.endpoints."/y"]
work = "0ms"
"#;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one load generator measured.
struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time it took per request (user + system), microseconds.
    cpu_us: f64,
}

/// CPU time (user + system) of this process (`RUSAGE_SELF`) or of its
/// waited-for children (`RUSAGE_CHILDREN`), so far.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `wrk` (or `wrk2` with a rate) on `url`; `None` when it is not installed
/// or said nothing readable.
fn wrk(
    program: &str,
    url: &str,
    threads: u32,
    connections: u32,
    seconds: u32,
    asked: Option<u32>,
) -> Option<Measured> {
    let mut cmd = Command::new(program);
    cmd.args([
        "--latency",
        &format!("-t{threads}"),
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
    ]);
    if let Some(rate) = asked {
        cmd.arg(format!("-R{rate}"));
    }
    let before = cpu(libc::RUSAGE_CHILDREN);
    let out = cmd.arg(url).output().ok()?;
    let used = cpu(libc::RUSAGE_CHILDREN) - before;
    let text = String::from_utf8_lossy(&out.stdout);
    // A rate made of errors would flatter wrk: say so.
    for line in text.lines().map(str::trim) {
        if line.starts_with("Non-2xx") || line.starts_with("Socket errors") {
            println!("  {program} -t{threads} -c{connections}: {line}");
        }
    }
    let rate: f64 = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    // wrk prints `50%  31.00us`; wrk2's corrected distribution `50.000%  0.98ms`.
    let at = |p: &str| -> Option<Duration> {
        let field = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(p))?
            .split_whitespace()
            .nth(1)?;
        let (n, unit) = field.split_at(field.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = n.parse().ok()?;
        let secs = match unit {
            "us" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            _ => return None,
        };
        Some(Duration::from_secs_f64(secs))
    };
    let (p50, p99) = match asked {
        Some(_) => (at("50.000%")?, at("99.000%")?),
        None => (at("50%")?, at("99%")?),
    };
    let cpu_us = used.as_secs_f64() * 1e6 / (rate * seconds as f64).max(1.0);
    Some(Measured {
        rate,
        p50,
        p99,
        cpu_us,
    })
}

/// What the driver did at one rate.
struct Driven {
    ok: f64,
    measured: Measured,
    behind: Behind,
    offered: u64,
}

/// The driver at `rate` for `seconds` on `authority`'s `/y`.
async fn driver(scenario: &Scenario, authority: &str, rate: f64, seconds: u64) -> Driven {
    let duration = Duration::from_secs(seconds);
    let services = squall::fault::instances(scenario);
    let instances = services.values().flatten().cloned().collect();
    let figures = squall::invariant::Figures::new(scenario, duration, &[], &services);
    let deadline = Duration::from_secs(1);
    let answers = Answers::new(Collector::new(figures, instances, deadline, true));
    let load = Load {
        targets: vec!["b-1".to_owned()],
        path: "/y".to_owned(),
        deadline,
        schedule: Arrivals::new(rate, Arrival::Constant, duration, 1),
        answers: answers.clone(),
    };
    let start = Instant::now() + Duration::from_millis(100);
    let stop = Arc::new(AtomicBool::new(false));
    let before = cpu(libc::RUSAGE_SELF);
    squall::engine::load::real_time(
        load,
        vec![authority.to_owned()],
        start,
        stop,
        squall::engine::load::default_threads(),
    )
    .await
    .expect("the senders start");
    let used = cpu(libc::RUSAGE_SELF) - before;
    let collected = answers
        .into_inner()
        .expect("the driver is done")
        .finish(Vec::new());
    let records = collected.requests;
    let ok = records.iter().filter(|r| r.outcome == Outcome::Ok).count() as f64
        / records.len().max(1) as f64;
    let mut lat: Vec<Duration> = records.iter().map(|r| r.latency).collect();
    lat.sort();
    Driven {
        ok,
        measured: Measured {
            rate: records.len() as f64 / seconds as f64,
            p50: pct(&lat, 50.0),
            p99: pct(&lat, 99.0),
            cpu_us: used.as_secs_f64() * 1e6 / records.len().max(1) as f64,
        },
        behind: collected.figures.behind,
        offered: collected.figures.offered,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (cargo test's listing) is ignored.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = std::env::var("SQUALL_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let binary = squall::docker::image::build_static_fixture(workspace).expect("static fixture");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (docker, _) = squall::docker::connect().await.expect("a Docker engine");
        squall::docker::image::build(&docker, &binary)
            .await
            .expect("the fixture image");
        let scenario = squall::scenario::parse(ONE, Path::new("bench.toml")).unwrap();
        let run = new_run_id();
        let s = Session::create(
            docker,
            &run,
            Journal::create(&run).unwrap(),
            specs(&scenario, 1).unwrap(),
            Vec::new(),
            Default::default(),
        )
        .await
        .expect("the bench topology");
        let authority = s.authority("b-1").unwrap();
        let url = format!("http://{authority}/y");
        println!(
            "load driver on real time against wrk on {url} ({} sender threads, {seconds}s per driver run):",
            squall::engine::load::default_threads()
        );
        let Some(one) = wrk("wrk", &url, 1, 1, 5, None) else {
            println!("  wrk is not installed (apt-get install wrk): no comparison");
            let _ = s.teardown().await;
            return;
        };
        // 1. Latency at a light rate.
        let light = driver(&scenario, &authority, 200.0, seconds.max(5)).await;
        println!(
            "  at 200 req/s: driver p50 {:.3}ms p99 {:.3}ms ({} of {} sent behind schedule); \
             wrk, one connection, closed loop: p50 {:.3}ms p99 {:.3}ms",
            ms(light.measured.p50),
            ms(light.measured.p99),
            light.behind.late,
            light.offered,
            ms(one.p50),
            ms(one.p99),
        );
        println!(
            "  overhead against wrk: p50 +{:.3}ms, p99 +{:.3}ms",
            ms(light.measured.p50.saturating_sub(one.p50)),
            ms(light.measured.p99.saturating_sub(one.p99)),
        );
        match wrk("wrk2", &url, 1, 1, 10, Some(200)) {
            Some(w2) => println!(
                "  wrk2 at 200 req/s, one connection (corrected): p50 {:.3}ms p99 {:.3}ms; driver overhead p50 {:+.3}ms p99 {:+.3}ms",
                ms(w2.p50),
                ms(w2.p99),
                ms(light.measured.p50) - ms(w2.p50),
                ms(light.measured.p99) - ms(w2.p99),
            ),
            None => println!("  wrk2 is not installed: no open-loop comparison"),
        }

        // 2. Sustained rate.
        let Some(max) = wrk("wrk", &url, 2, 64, 5, None) else {
            println!("  wrk gave no maximum");
            let _ = s.teardown().await;
            return;
        };
        let mut sustained = None;
        let mut past = None;
        let mut rate = 5_000.0;
        while rate <= 200_000.0 {
            let d = driver(&scenario, &authority, rate, seconds).await;
            let kept = d.ok >= 0.99 && (d.behind.late as f64) <= 0.01 * d.offered as f64;
            println!(
                "  driver at {rate:>7.0} req/s: {:5.1}% ok, p50 {:.3}ms p99 {:.3}ms, {:.1}us CPU a request, {} of {} behind schedule (worst {:.1}ms){}",
                d.ok * 100.0,
                ms(d.measured.p50),
                ms(d.measured.p99),
                d.measured.cpu_us,
                d.behind.late,
                d.offered,
                ms(d.behind.worst),
                if kept { "" } else { ": not kept" }
            );
            if !kept {
                past = Some((rate, d));
                break;
            }
            sustained = Some(rate);
            rate *= 1.15;
            // Let the instance's sockets settle between rates.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let sustained = sustained.unwrap_or(0.0);
        println!(
            "  wrk max (2 threads, 64 connections): {:.0} req/s, {:.1}us CPU a request; driver sustained: {sustained:.0} req/s; ratio {:.2}",
            max.rate,
            max.cpu_us,
            sustained / max.rate
        );
        // 3. Past the sustained rate, the driver says it fell behind.
        if let Some((rate, d)) = past {
            println!(
                "  behind schedule at {rate:.0} req/s: {} of {} requests sent more than 1ms late, worst {:.1}ms",
                d.behind.late,
                d.offered,
                ms(d.behind.worst)
            );
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let teardown = Instant::now();
        match s.teardown().await {
            Ok(()) => println!(
                "teardown (container and network removed): {:.2}s",
                teardown.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!("error: {e} (hint: `squall heal --run {run}`)"),
        }
    });
}
