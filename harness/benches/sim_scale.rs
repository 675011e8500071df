//! How the simulator scales with the number of instances: layered topologies of 12 to 384
//! instances at 500 requests/s for 20 simulated seconds, through squall's whole engine, and
//! bare turmoil with the same number of idle hosts in the same sitting.
//!
//! `cargo bench -p squall --bench sim_scale`. The parent runs every (size, mode) pair
//! `SQUALL_SCALE_RUNS` times (default 3), each in a child process of its own (this binary
//! again, with `SQUALL_SCALE_MODE` and `SQUALL_SCALE_SIZE` set) so that the peak resident set
//! (`VmHWM`, read by the child at its end) belongs to one run. It prints, per size, the median
//! wall time of each mode, the real-time factor (simulated seconds per wall second), the hops
//! served, the peak memory and the **idle cost per host per simulated second** (bare turmoil's
//! wall time over hosts and simulated seconds: what a host costs when nothing happens).
//!
//! Modes:
//! - `squall`: the generated scenario text through `scenario::parse`, then `sim::run` +
//!   `invariant::evaluate` + `Report::build` + `to_json`, figures only (what `squall run`
//!   does, minus writing files);
//! - `turmoil-idle`: bare turmoil with the same Builder settings and the same number of
//!   hosts, each accepting on a listener and doing nothing else, and one client sleeping for
//!   the same simulated time.
//!
//! The topology (`topology_toml`): a unit of 12 instances over eight services, `u` units for
//! `12u` instances; every tier scales out with `u`, so a request makes the same ten hops at
//! every size (gateway -> api -> auth -> cache, then catalog (-> cache, db) and recs
//! (optional, -> cache) in parallel, then store) and only the number of hosts grows. cache
//! and db are shared dependencies of several tiers.
//!
//! Environment: `SQUALL_SCALE_SIZES` (comma-separated instance counts, multiples of 12;
//! default `12,24,48,96,192,384`), `SQUALL_SCALE_MODES` (default both), `SQUALL_SCALE_RUNS`,
//! `SQUALL_SCALE_SECONDS` (simulated load seconds, default 20), `SQUALL_SCALE_RATE`
//! (requests/s, default 500). Without `--bench` on the command line (e.g. under
//! `cargo test --all-targets`) it runs a 1-second smoke pass at 12 instances.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use squall::engine::RunOptions;
use squall::fault::WORKLOAD_HOST;
use squall::scenario::Scenario;

const MODE_VAR: &str = "SQUALL_SCALE_MODE";
const SIZE_VAR: &str = "SQUALL_SCALE_SIZE";
const SIZES_VAR: &str = "SQUALL_SCALE_SIZES";
const MODES_VAR: &str = "SQUALL_SCALE_MODES";
const RUNS_VAR: &str = "SQUALL_SCALE_RUNS";
const SECONDS_VAR: &str = "SQUALL_SCALE_SECONDS";
const RATE_VAR: &str = "SQUALL_SCALE_RATE";
const RESULT_PREFIX: &str = "SQUALL_SCALE_RESULT ";
const MODES: [&str; 2] = ["squall", "turmoil-idle"];
const SIZES: [u32; 6] = [12, 24, 48, 96, 192, 384];
/// Instances in one unit of the generated topology.
const UNIT: u32 = 12;

/// The same settings as `squall::sim` uses.
const TCP_CAPACITY: usize = 1 << 16;
const EPOCH_SECS: u64 = 1_800_000_000;
const PORT: u16 = 8080;

/// What one child measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sample {
    mode: String,
    instances: u32,
    /// turmoil hosts, the workload client included.
    hosts: u32,
    requests: u64,
    /// HTTP requests that reached a server (squall: `record.received`).
    hops: u64,
    sim_seconds: f64,
    wall_seconds: f64,
    held: Option<bool>,
    /// squall: a hash of `report.json` (SipHash with fixed keys), to compare builds: the
    /// same scenario and seed must give the same bytes.
    report_hash: Option<String>,
    peak_rss_kb: u64,
}

fn main() {
    if let Ok(mode) = std::env::var(MODE_VAR) {
        let size = env_parse(SIZE_VAR).expect("the parent sets the size");
        let seconds = env_parse(SECONDS_VAR).unwrap_or(20);
        let rate = env_parse(RATE_VAR).unwrap_or(500.0);
        child(&mode, size, seconds, rate);
        return;
    }
    parent(std::env::args().any(|a| a == "--bench"));
}

fn env_parse<T: std::str::FromStr>(var: &str) -> Option<T> {
    std::env::var(var).ok().and_then(|s| s.trim().parse().ok())
}

/// The layered scenario of `instances` instances (a multiple of [`UNIT`]) as TOML text.
fn topology_toml(instances: u32, seconds: u64, rate: f64) -> String {
    assert!(
        instances >= UNIT && instances.is_multiple_of(UNIT),
        "sizes are multiples of {UNIT}, not {instances}"
    );
    let u = instances / UNIT;
    // A warm-up must leave some of the run to judge (short smoke runs).
    let warmup = if seconds >= 4 { "1s" } else { "200ms" };
    format!(
        r#"name = "scale-{instances}"
duration = "{seconds}s"
seed = 7
expect = "pass"

[workload]
target = "gateway"
path = "/req"
rate = {rate}
arrival = "constant"
deadline = "250ms"
warmup = "{warmup}"

[services.gateway]
replicas = {gateway}
[services.gateway.endpoints."/req"]
work = "1ms"
calls = [ {{ to = "api", path = "/handle", timeout = "200ms" }} ]

[services.api]
replicas = {api}
[services.api.endpoints."/handle"]
work = {{ p50 = "1ms", p99 = "4ms" }}
calls = [
  {{ to = "auth", path = "/check", timeout = "30ms", retries = 1, backoff = "2ms" }},
  {{ to = "catalog", path = "/get", timeout = "60ms", group = 1 }},
  {{ to = "recs", path = "/get", timeout = "40ms", required = false, group = 1 }},
  {{ to = "store", path = "/write", timeout = "40ms", group = 2 }},
]

[services.auth]
replicas = {auth}
[services.auth.endpoints."/check"]
work = "500us"
calls = [ {{ to = "cache", path = "/get", timeout = "10ms", required = false }} ]

[services.catalog]
replicas = {catalog}
[services.catalog.endpoints."/get"]
work = {{ p50 = "2ms", p99 = "6ms" }}
calls = [
  {{ to = "cache", path = "/get", timeout = "10ms", required = false }},
  {{ to = "db", path = "/read", timeout = "30ms", retries = 1, backoff = "2ms", group = 1 }},
]

[services.recs]
replicas = {recs}
[services.recs.endpoints."/get"]
work = {{ mean = "4ms" }}
calls = [ {{ to = "cache", path = "/get", timeout = "10ms", required = false }} ]

[services.cache]
replicas = {cache}
[services.cache.endpoints."/get"]
work = "200us"

[services.db]
replicas = {db}
[services.db.endpoints."/read"]
work = {{ mean = "3ms" }}
error_rate = 0.001

[services.store]
replicas = {store}
[services.store.endpoints."/write"]
work = {{ p50 = "2ms", p99 = "5ms" }}

[[invariants]]
kind = "answered"
max_ratio = 0.01
"#,
        gateway = u,
        api = 2 * u,
        auth = u,
        catalog = 2 * u,
        recs = 2 * u,
        cache = u,
        db = 2 * u,
        store = u,
    )
}

// ---------------------------------------------------------------------------------------------
// Child: one measurement.

fn child(mode: &str, instances: u32, seconds: u64, rate: f64) {
    let text = topology_toml(instances, seconds, rate);
    let scenario = squall::scenario::parse(&text, Path::new("scale.toml"))
        .unwrap_or_else(|e| panic!("the generated scenario parses: {e:?}"));
    let mut sample = match mode {
        "squall" => run_squall(&scenario),
        "turmoil-idle" => run_idle(&scenario, instances),
        other => panic!("unknown {MODE_VAR} `{other}` (one of {MODES:?})"),
    };
    sample.mode = mode.to_owned();
    sample.instances = instances;
    sample.peak_rss_kb = peak_rss_kb();
    println!(
        "{RESULT_PREFIX}{}",
        serde_json::to_string(&sample).expect("a sample serialises")
    );
}

fn run_squall(scenario: &Scenario) -> Sample {
    let opts = RunOptions {
        figures_only: true,
        ..RunOptions::default()
    };
    let start = Instant::now();
    let record = squall::sim::run(scenario, &opts).expect("the scenario runs in the simulator");
    let verdicts = squall::invariant::evaluate(scenario, &record);
    let report = squall::report::Report::build(scenario, &record, verdicts);
    let json = report.to_json();
    let wall = start.elapsed();
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&json, &mut hasher);
    let report_hash = Some(format!("{:016x}", std::hash::Hasher::finish(&hasher)));
    let figures = record
        .figures
        .as_ref()
        .expect("the simulator streams figures");
    Sample {
        mode: String::new(),
        instances: 0,
        hosts: record
            .received
            .values()
            .map(|i| i.len() as u32)
            .sum::<u32>()
            + 1,
        requests: figures.offered,
        hops: record.received.values().flat_map(|i| i.values()).sum(),
        sim_seconds: record.duration.as_secs_f64(),
        wall_seconds: wall.as_secs_f64(),
        held: Some(report.held()),
        report_hash,
        peak_rss_kb: 0,
    }
}

/// Bare turmoil: `instances` hosts accepting on a listener and nothing else, one client
/// sleeping through the scenario's load phase; the same Builder settings as the simulator.
fn run_idle(scenario: &Scenario, instances: u32) -> Sample {
    let start = Instant::now();
    let duration = scenario.duration;
    let mut sim = turmoil::Builder::new()
        .rng_seed(scenario.seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(scenario.sim.tick)
        .min_message_latency(scenario.sim.latency_min)
        .max_message_latency(scenario.sim.latency_max)
        .tcp_capacity(TCP_CAPACITY)
        .simulation_duration(duration + Duration::from_secs(1))
        .build();
    for i in 0..instances {
        sim.host(format!("idle-{i}").as_str(), || async {
            let listener = turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
            loop {
                let _ = listener.accept().await?;
            }
        });
    }
    sim.client(WORKLOAD_HOST, async move {
        tokio::time::sleep(duration).await;
        Ok(())
    });
    sim.run().expect("the idle simulation runs");
    Sample {
        mode: String::new(),
        instances: 0,
        hosts: instances + 1,
        requests: 0,
        hops: 0,
        sim_seconds: duration.as_secs_f64(),
        wall_seconds: start.elapsed().as_secs_f64(),
        held: None,
        report_hash: None,
        peak_rss_kb: 0,
    }
}

/// `VmHWM` (peak resident set) of this process, in kB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Parent: run the children, summarise.

fn parent(bench: bool) {
    let list = |var: &str| std::env::var(var).ok().filter(|s| !s.trim().is_empty());
    let sizes: Vec<u32> = match (bench, list(SIZES_VAR)) {
        (false, _) => vec![UNIT],
        (true, Some(s)) => s
            .split(',')
            .map(|n| n.trim().parse().expect("SQUALL_SCALE_SIZES: numbers"))
            .collect(),
        (true, None) => SIZES.to_vec(),
    };
    let modes: Vec<String> = match list(MODES_VAR) {
        Some(m) => m.split(',').map(|m| m.trim().to_owned()).collect(),
        None => MODES.iter().map(|m| (*m).to_owned()).collect(),
    };
    let runs: usize = if bench {
        env_parse(RUNS_VAR).unwrap_or(3).max(1)
    } else {
        1
    };
    let seconds: u64 = if bench {
        env_parse(SECONDS_VAR).unwrap_or(20)
    } else {
        1
    };
    let rate: f64 = env_parse(RATE_VAR).unwrap_or(500.0);
    let exe = std::env::current_exe().expect("the bench knows its own path");

    println!("squall sim_scale: layered topologies, {rate} requests/s, {seconds} simulated s");
    println!("machine: {}", machine());
    println!("load average before the runs: {}", load_average());
    if !bench {
        println!("(no --bench argument: smoke pass, 12 instances, 1 simulated s, nothing judged)");
    }
    println!("runs per size and mode: {runs} (each in its own process; median wall time)");

    let mut rows = Vec::new();
    for &size in &sizes {
        let mut per_mode: Vec<(String, Vec<Sample>)> =
            modes.iter().map(|m| (m.clone(), Vec::new())).collect();
        for run in 0..runs {
            for (mode, samples) in &mut per_mode {
                let sample = run_child(&exe, mode, size, seconds, rate);
                eprintln!(
                    "  {size:>4} instances, run {}/{runs} {mode:<12} {:>8.3} s wall, {} hops, peak {:.1} MB{}{}",
                    run + 1,
                    sample.wall_seconds,
                    sample.hops,
                    sample.peak_rss_kb as f64 / 1024.0,
                    match sample.held {
                        Some(true) => ", invariants held",
                        Some(false) => ", invariants FAILED",
                        None => "",
                    },
                    sample
                        .report_hash
                        .as_ref()
                        .map(|h| format!(", report.json {h}"))
                        .unwrap_or_default()
                );
                samples.push(sample);
            }
        }
        rows.push((size, per_mode));
    }

    println!();
    println!(
        "{:>9} {:<12} {:>9} {:>10} {:>9} {:>11} {:>8} {:>14} {:>16}  wall s per run",
        "instances",
        "mode",
        "wall s",
        "sim-s/wall",
        "hops",
        "hops/wall-s",
        "peak MB",
        "us/host/sim-s",
        "report.json"
    );
    for (size, per_mode) in &rows {
        for (mode, samples) in per_mode {
            let median = median(samples);
            let peak = samples.iter().map(|s| s.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0;
            let per_host = median.wall_seconds * 1e6 / f64::from(median.hosts) / median.sim_seconds;
            let walls: Vec<String> = samples
                .iter()
                .map(|s| format!("{:.3}", s.wall_seconds))
                .collect();
            let hashes: Vec<&str> = samples
                .iter()
                .filter_map(|s| s.report_hash.as_deref())
                .collect();
            let hash = match hashes.first() {
                None => "-".to_owned(),
                Some(h) if hashes.iter().all(|x| x == h) => (*h).to_owned(),
                Some(_) => "DIFFERS".to_owned(),
            };
            println!(
                "{:>9} {:<12} {:>9.3} {:>10.2} {:>9} {:>11.0} {:>8.1} {:>14.1} {:>16}  {}",
                size,
                mode,
                median.wall_seconds,
                median.sim_seconds / median.wall_seconds,
                median.hops,
                median.hops as f64 / median.wall_seconds,
                peak,
                per_host,
                hash,
                walls.join(" ")
            );
        }
    }
    println!("(us/host/sim-s: wall microseconds per host per simulated second; for turmoil-idle,");
    println!(" the idle cost of a host; for squall, the whole run spread over its hosts)");
    println!("load average after the runs: {}", load_average());
}

fn run_child(exe: &Path, mode: &str, size: u32, seconds: u64, rate: f64) -> Sample {
    let output = Command::new(exe)
        .env(MODE_VAR, mode)
        .env(SIZE_VAR, size.to_string())
        .env(SECONDS_VAR, seconds.to_string())
        .env(RATE_VAR, rate.to_string())
        .output()
        .unwrap_or_else(|e| panic!("starting the {mode} child: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(RESULT_PREFIX));
    match (output.status.success(), line) {
        (true, Some(line)) => serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the {mode} child's result `{line}`: {e}")),
        _ => {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            panic!(
                "the {mode} child at {size} instances failed ({})",
                output.status
            );
        }
    }
}

fn median(samples: &[Sample]) -> Sample {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.wall_seconds.total_cmp(&b.wall_seconds));
    sorted[sorted.len() / 2].clone()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cpus} CPUs, {model}")
}
