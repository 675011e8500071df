//! Simulator throughput and memory: card-auth at its scenario load (500 requests/s for 60
//! simulated seconds) through squall's whole engine, against bare turmoil serving the same
//! request pattern with plain hyper handlers.
//!
//! `cargo bench -p squall --bench sim_throughput` (or `just bench`). The parent process runs
//! every mode `SQUALL_BENCH_RUNS` times (default 3) in turn, each run in a child process of
//! its own (this binary again, with `SQUALL_BENCH_MODE` set), so that the peak resident set
//! (`VmHWM`, read by the child at its end) belongs to one mode. It prints the median wall time
//! per mode, simulated seconds and requests per wall second, the ratios against the baseline
//! and whether the aims hold, then times the `squall` binary end to end once. Last, memory in
//! duration: the `squall` mode once each at 60, 300 and 600 simulated seconds, with its peak
//! resident set, which must stay flat (under 80 MB, and the 600-s run within 1.2x of the 60-s
//! run's): figures are streamed, not kept per request.
//!
//! Modes:
//! - `squall`: `scenario::load`, then `sim::run` + `invariant::evaluate` + `Report::build` +
//!   `to_json` (what `squall run` does, minus writing files);
//! - `squall-nofaults`: the same with the scenario's faults removed, the like-for-like
//!   comparison with the baseline, which has none;
//! - `baseline`: bare turmoil 0.7.2 with the same hosts, Builder settings and open-loop
//!   schedule; each instance runs a hyper HTTP/1 server whose handler sleeps the endpoint's
//!   work (sampled from the same distributions with a seeded ChaCha8) and makes the same
//!   downstream calls in the same groups (round-robin replicas, through the fixture's pooled
//!   `HttpClient<Sim>`), with no timeouts, retries, degradation, headers or recording
//!   (a per-host hop count only), and answers 200 `ok`.
//!
//! Environment: `SQUALL_BENCH_RUNS` (runs per mode), `SQUALL_BENCH_SECONDS` (simulated load
//! seconds; default the scenario's 60), `SQUALL_BENCH_RATE` (requests/s instead of the
//! scenario's 500, for analysis: e.g. 1 shows the cost of idle ticking), `SQUALL_BENCH_TICK_US`
//! (the simulator tick in microseconds instead of the scenario's 1000, for analysis). Without `--bench` on the command line (e.g. under
//! `cargo test --all-targets`) it runs a 2-second smoke pass of each mode and judges nothing.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use indexmap::IndexMap;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use squall::engine::RunOptions;
use squall::fault::WORKLOAD_HOST;
use squall::scenario::Scenario;
use squall::topology::{authority, derive_seed, instance_configs};
use squall_fixture::call::join_all;
use squall_fixture::{HttpClient, InstanceConfig, Sim, Work};

const MODE_VAR: &str = "SQUALL_BENCH_MODE";
const RUNS_VAR: &str = "SQUALL_BENCH_RUNS";
const SECONDS_VAR: &str = "SQUALL_BENCH_SECONDS";
const RATE_VAR: &str = "SQUALL_BENCH_RATE";
const TICK_VAR: &str = "SQUALL_BENCH_TICK_US";
/// A child's one machine-readable line starts with this.
const RESULT_PREFIX: &str = "SQUALL_BENCH_RESULT ";
const MODES: [&str; 3] = ["squall", "squall-nofaults", "baseline"];

/// The same settings as `squall::sim` uses.
const TCP_CAPACITY: usize = 1 << 16;
const DRAIN: Duration = Duration::from_secs(5);
const EPOCH_SECS: u64 = 1_800_000_000;

/// The aims.
const AIM_SIM_PER_WALL: f64 = 20.0;
const AIM_RATIO: f64 = 1.5;
const AIM_PEAK_MB: f64 = 200.0;
const AIM_END_TO_END_S: f64 = 10.0;
/// Memory flat in duration: simulated seconds measured, the ceiling and the growth allowed.
const MEMORY_SECONDS: [u64; 3] = [60, 300, 600];
const AIM_FLAT_PEAK_MB: f64 = 80.0;
const AIM_FLAT_GROWTH: f64 = 1.2;

/// What one child measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sample {
    mode: String,
    /// Requests offered by the workload.
    requests: u64,
    /// Requests answered 200 before the deadline (squall: ok or degraded).
    answered: u64,
    /// HTTP requests that reached a server, over all instances (workload hops included).
    hops: u64,
    /// Simulated seconds of the load phase.
    sim_seconds: f64,
    /// Wall seconds of the whole measured section.
    wall_seconds: f64,
    /// Wall seconds of the simulation alone (squall: `sim::run`).
    sim_wall_seconds: f64,
    /// CPU seconds (user + system) of the measured section: less disturbed than wall time
    /// when other work shares the machine.
    cpu_seconds: f64,
    /// squall modes: every verdict held.
    held: Option<bool>,
    /// `VmHWM` of the child at its end, in kB.
    peak_rss_kb: u64,
}

fn main() {
    if let Ok(mode) = std::env::var(MODE_VAR) {
        child(&mode);
        return;
    }
    let bench = std::env::args().any(|a| a == "--bench");
    parent(bench);
}

fn scenario_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/card-auth.toml")
}

fn load_seconds() -> Option<u64> {
    std::env::var(SECONDS_VAR).ok().and_then(|s| s.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// Child: one measurement.

fn child(mode: &str) {
    let mut scenario = squall::scenario::load(&scenario_path())
        .unwrap_or_else(|e| panic!("loading {}: {e:?}", scenario_path().display()));
    if let Some(secs) = load_seconds() {
        scenario.duration = Duration::from_secs(secs);
    }
    if let Some(rate) = std::env::var(RATE_VAR).ok().and_then(|s| s.parse().ok()) {
        scenario.workload.rate = rate;
    }
    if let Some(us) = std::env::var(TICK_VAR).ok().and_then(|s| s.parse().ok()) {
        scenario.sim.tick = Duration::from_micros(us);
    }
    let mut sample = match mode {
        "squall" => run_squall(&scenario),
        "squall-nofaults" => {
            scenario.faults.clear();
            run_squall(&scenario)
        }
        "baseline" => run_baseline(&scenario),
        other => panic!("unknown {MODE_VAR} `{other}` (one of {MODES:?})"),
    };
    sample.mode = mode.to_owned();
    sample.peak_rss_kb = peak_rss_kb();
    println!(
        "{RESULT_PREFIX}{}",
        serde_json::to_string(&sample).expect("a sample serialises")
    );
}

fn run_squall(scenario: &Scenario) -> Sample {
    // As `squall run` does: figures only, memory flat in the run's length.
    let opts = RunOptions {
        figures_only: true,
        ..RunOptions::default()
    };
    let cpu = cpu_seconds();
    let start = Instant::now();
    let record = squall::sim::run(scenario, &opts).expect("card-auth runs in the simulator");
    let sim_wall = start.elapsed();
    let verdicts = squall::invariant::evaluate(scenario, &record);
    let report = squall::report::Report::build(scenario, &record, verdicts);
    let json = report.to_json();
    let wall = start.elapsed();
    let cpu = cpu_seconds() - cpu;
    std::hint::black_box(json);
    let figures = record
        .figures
        .as_ref()
        .expect("the simulator streams its figures");
    let answered = figures.per_second.iter().map(|s| s.ok + s.degraded).sum();
    let hops = record
        .received
        .values()
        .flat_map(|instances| instances.values())
        .sum();
    Sample {
        mode: String::new(),
        requests: figures.offered,
        answered,
        hops,
        sim_seconds: record.duration.as_secs_f64(),
        wall_seconds: wall.as_secs_f64(),
        sim_wall_seconds: sim_wall.as_secs_f64(),
        cpu_seconds: cpu,
        held: Some(report.held()),
        peak_rss_kb: 0,
    }
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (clock ticks,
/// taken as the usual 100 per second).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // Fields after the parenthesised command name; utime and stime are fields 14, 15.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) as f64 / 100.0)
        })
        .unwrap_or(0.0)
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
// The baseline: bare turmoil + plain hyper handlers, same hosts and request pattern.

fn run_baseline(scenario: &Scenario) -> Sample {
    let seed = scenario.seed;
    let duration = scenario.duration;
    let cpu = cpu_seconds();
    let start = Instant::now();
    // The instances, their endpoints, calls and upstreams, derived as squall derives them.
    let configs = instance_configs(scenario, seed).expect("card-auth's topology is supported");
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_SECS))
        .tick_duration(scenario.sim.tick)
        .min_message_latency(scenario.sim.latency_min)
        .max_message_latency(scenario.sim.latency_max)
        .tcp_capacity(TCP_CAPACITY)
        .simulation_duration(duration + scenario.workload.deadline + DRAIN)
        .build();

    let hops = Rc::new(Cell::new(0u64));
    for config in configs {
        let name = config.instance.clone();
        let config = Rc::new(config);
        let hops = hops.clone();
        sim.host(name.as_str(), move || {
            serve_bare(config.clone(), hops.clone())
        });
    }

    let schedule = squall::workload::arrivals(
        scenario.workload.rate,
        scenario.workload.arrival,
        duration,
        derive_seed(seed, 0),
    );
    let requests = schedule.len() as u64;
    let targets: Vec<String> = squall::fault::instances(scenario)
        .get(&scenario.workload.target)
        .map(|v| v.iter().map(|i| authority(i)).collect())
        .unwrap_or_default();
    let path = scenario.workload.path.clone();
    let deadline = scenario.workload.deadline;
    let answered = Rc::new(Cell::new(0u64));
    let answered_in = answered.clone();
    sim.client(WORKLOAD_HOST, async move {
        let client = HttpClient::<Sim>::new();
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(schedule.len());
        for (i, at) in schedule.into_iter().enumerate() {
            tokio::time::sleep_until(start + at).await;
            let client = client.clone();
            let target = targets[i % targets.len()].clone();
            let path = path.clone();
            let answered = answered_in.clone();
            tasks.push(tokio::task::spawn_local(async move {
                let reply =
                    tokio::time::timeout(deadline, client.get(&target, &path, &HeaderMap::new()))
                        .await;
                if matches!(reply, Ok(Ok(r)) if r.status == 200) {
                    answered.set(answered.get() + 1);
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    });
    sim.run().expect("the baseline simulation runs");
    let wall = start.elapsed();
    let cpu = cpu_seconds() - cpu;
    Sample {
        mode: String::new(),
        requests,
        answered: answered.get(),
        hops: hops.get(),
        sim_seconds: duration.as_secs_f64(),
        wall_seconds: wall.as_secs_f64(),
        sim_wall_seconds: wall.as_secs_f64(),
        cpu_seconds: cpu,
        held: None,
        peak_rss_kb: 0,
    }
}

/// One bare instance: its endpoints, a seeded rng for work, one pooled client, round-robin
/// counters per downstream service.
struct Bare {
    endpoints: IndexMap<String, BareEndpoint>,
    /// Per downstream service: replica authorities and the next one to use.
    upstreams: Vec<(Vec<String>, Cell<usize>)>,
    rng: RefCell<ChaCha8Rng>,
    client: HttpClient<Sim>,
    hops: Rc<Cell<u64>>,
}

struct BareEndpoint {
    work: Work,
    /// Calls grouped by `group`, ascending, as (upstream index, path).
    groups: Vec<Vec<(usize, String)>>,
}

impl Bare {
    fn new(config: &InstanceConfig, hops: Rc<Cell<u64>>) -> Self {
        let services: Vec<&String> = config.upstreams.keys().collect();
        let endpoints = config
            .endpoints
            .iter()
            .map(|(path, ep)| {
                let mut calls: Vec<_> = ep.calls.iter().collect();
                calls.sort_by_key(|c| c.group);
                let mut groups: Vec<(u32, Vec<(usize, String)>)> = Vec::new();
                for call in calls {
                    let up = services
                        .iter()
                        .position(|s| **s == call.to)
                        .expect("every call has an upstream");
                    match groups.last_mut() {
                        Some((g, group)) if *g == call.group => group.push((up, call.path.clone())),
                        _ => groups.push((call.group, vec![(up, call.path.clone())])),
                    }
                }
                let endpoint = BareEndpoint {
                    work: ep.work,
                    groups: groups.into_iter().map(|(_, g)| g).collect(),
                };
                (path.clone(), endpoint)
            })
            .collect();
        Bare {
            endpoints,
            upstreams: config
                .upstreams
                .values()
                .map(|a| (a.clone(), Cell::new(0)))
                .collect(),
            rng: RefCell::new(ChaCha8Rng::seed_from_u64(config.seed)),
            client: HttpClient::<Sim>::new(),
            hops,
        }
    }

    fn pick(&self, upstream: usize) -> &str {
        let (replicas, next) = &self.upstreams[upstream];
        let i = next.get();
        next.set(i.wrapping_add(1));
        &replicas[i % replicas.len()]
    }

    async fn handle(self: Rc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        self.hops.set(self.hops.get() + 1);
        let Some(endpoint) = self.endpoints.get(request.uri().path()) else {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        };
        let work = endpoint.work.sample(&mut *self.rng.borrow_mut());
        if !work.is_zero() {
            tokio::time::sleep(work).await;
        }
        let headers = HeaderMap::new();
        for group in &endpoint.groups {
            join_all(group.iter().map(|(up, path)| {
                let target = self.pick(*up);
                let client = &self.client;
                let headers = &headers;
                async move {
                    let _ = client.get(target, path, headers).await;
                }
            }))
            .await;
        }
        Response::new(Full::new(Bytes::from_static(b"ok")))
    }
}

async fn serve_bare(config: Rc<InstanceConfig>, hops: Rc<Cell<u64>>) -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, config.port)).await?;
    // Built inside the host, so the client's timers belong to this host's runtime.
    let bare = Rc::new(Bare::new(&config, hops));
    let mut http = http1::Builder::new();
    // As the fixture: no wall-clock Date header, no header-read timer.
    http.keep_alive(true)
        .auto_date_header(false)
        .header_read_timeout(None);
    loop {
        let (stream, _) = listener.accept().await?;
        let bare = bare.clone();
        let service = service_fn(move |request| {
            let bare = bare.clone();
            async move { Ok::<_, Infallible>(bare.handle(request).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Parent: run the children, summarise.

fn parent(bench: bool) {
    let runs: usize = if bench {
        std::env::var(RUNS_VAR)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3)
            .max(1)
    } else {
        1
    };
    let seconds = if bench { load_seconds() } else { Some(2) };
    let exe = std::env::current_exe().expect("the bench knows its own path");
    // Analysis overrides: the aims only apply to the scenario as written.
    let overrides: Vec<String> = [RATE_VAR, TICK_VAR]
        .iter()
        .filter_map(|var| std::env::var(var).ok().map(|v| format!("{var}={v}")))
        .collect();

    println!(
        "squall sim_throughput: card-auth, {}",
        scenario_path().display()
    );
    if !overrides.is_empty() {
        println!(
            "overridden: {} (analysis only: the aims are not judged)",
            overrides.join(" ")
        );
    }
    print_machine();
    println!("load average before the runs: {}", load_average());
    if !bench {
        println!("(no --bench argument: smoke pass, 2 simulated seconds, 1 run, nothing judged)");
    }
    println!(
        "runs per mode: {runs} (each in its own process; median wall time; {RUNS_VAR} to change)"
    );

    let mut samples: IndexMap<&str, Vec<Sample>> = MODES.iter().map(|m| (*m, vec![])).collect();
    for run in 0..runs {
        for mode in MODES {
            let sample = run_child(&exe, mode, seconds);
            eprintln!(
                "  run {}/{runs} {mode:<16} {:>7.3} s wall ({:.3} s simulating), {:.2} s CPU, {} requests, {} answered, {} hops, peak {:.1} MB{}",
                run + 1,
                sample.wall_seconds,
                sample.sim_wall_seconds,
                sample.cpu_seconds,
                sample.requests,
                sample.answered,
                sample.hops,
                sample.peak_rss_kb as f64 / 1024.0,
                match sample.held {
                    Some(true) => ", invariants held",
                    Some(false) => ", invariants FAILED",
                    None => "",
                }
            );
            samples[mode].push(sample);
        }
    }

    println!();
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11} {:>9}",
        "mode",
        "requests",
        "hops",
        "wall s",
        "sim wall",
        "cpu s",
        "sim-s/wall",
        "req/wall-s",
        "hops/wall-s",
        "peak MB"
    );
    let mut medians: IndexMap<&str, (Sample, f64)> = IndexMap::new();
    let mut cpu_medians: IndexMap<&str, f64> = IndexMap::new();
    for (mode, list) in &samples {
        let median = median_sample(list);
        let mut cpus: Vec<f64> = list.iter().map(|s| s.cpu_seconds).collect();
        cpus.sort_by(f64::total_cmp);
        let cpu = cpus[cpus.len() / 2];
        cpu_medians.insert(mode, cpu);
        let peak_mb = list.iter().map(|s| s.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0;
        let w = median.wall_seconds;
        println!(
            "{:<16} {:>9} {:>9} {:>9.3} {:>9.3} {:>9.2} {:>11.1} {:>11.0} {:>11.0} {:>9.1}",
            mode,
            median.requests,
            median.hops,
            w,
            median.sim_wall_seconds,
            cpu,
            median.sim_seconds / w,
            median.requests as f64 / w,
            median.hops as f64 / w,
            peak_mb
        );
        medians.insert(mode, (median, peak_mb));
    }
    let walls: Vec<String> = samples
        .iter()
        .map(|(m, l)| {
            let w: Vec<String> = l.iter().map(|s| format!("{:.3}", s.wall_seconds)).collect();
            format!("{m}: {}", w.join(" "))
        })
        .collect();
    println!("wall s per run: {}", walls.join("; "));
    println!("load average after the runs: {}", load_average());

    let baseline = medians["baseline"].0.wall_seconds;
    println!();
    for mode in ["squall", "squall-nofaults"] {
        println!(
            "ratio {mode}/baseline wall time: {:.2}x (CPU time: {:.2}x)",
            medians[mode].0.wall_seconds / baseline,
            cpu_medians[mode] / cpu_medians["baseline"]
        );
    }

    if bench && overrides.is_empty() {
        let (squall, squall_peak) = &medians["squall"];
        let sim_per_wall = squall.sim_seconds / squall.wall_seconds;
        let ratio = squall.wall_seconds / baseline;
        let ratio_nf = medians["squall-nofaults"].0.wall_seconds / baseline;
        let peak = squall_peak.max(medians["squall-nofaults"].1);
        println!();
        println!("aims (squall mode, card-auth with its faults):");
        aim(
            &format!("simulated seconds per wall second >= {AIM_SIM_PER_WALL}"),
            format!("{sim_per_wall:.1}"),
            sim_per_wall >= AIM_SIM_PER_WALL,
        );
        aim(
            &format!("wall time within {AIM_RATIO}x of the baseline (with faults)"),
            format!("{ratio:.2}x"),
            ratio <= AIM_RATIO,
        );
        aim(
            &format!("wall time within {AIM_RATIO}x of the baseline (no faults)"),
            format!("{ratio_nf:.2}x"),
            ratio_nf <= AIM_RATIO,
        );
        aim(
            &format!("peak memory < {AIM_PEAK_MB} MB (squall modes)"),
            format!("{peak:.1} MB (squall {squall_peak:.1} MB)"),
            peak < AIM_PEAK_MB,
        );
        end_to_end();
        memory_in_duration(&exe);
    }
}

/// Peak resident set of the `squall` mode at each of [`MEMORY_SECONDS`], one run each.
fn memory_in_duration(exe: &Path) {
    println!();
    println!("memory in duration (squall mode, one run each):");
    let mut peaks = Vec::new();
    for secs in MEMORY_SECONDS {
        let sample = run_child(exe, "squall", Some(secs));
        let peak = sample.peak_rss_kb as f64 / 1024.0;
        println!(
            "  {secs:>4} s simulated: {:>7} requests, peak {peak:.1} MB, {:.1} s wall",
            sample.requests, sample.wall_seconds
        );
        peaks.push(peak);
    }
    let (first, last) = (peaks[0], peaks[peaks.len() - 1]);
    let max = peaks.iter().copied().fold(0.0, f64::max);
    aim(
        &format!("peak memory < {AIM_FLAT_PEAK_MB} MB at every length"),
        format!("{max:.1} MB"),
        max < AIM_FLAT_PEAK_MB,
    );
    aim(
        &format!(
            "peak at {} s within {AIM_FLAT_GROWTH}x of the peak at {} s",
            MEMORY_SECONDS[MEMORY_SECONDS.len() - 1],
            MEMORY_SECONDS[0]
        ),
        format!("{:.2}x", last / first),
        last <= first * AIM_FLAT_GROWTH,
    );
}

fn aim(what: &str, measured: String, held: bool) {
    println!(
        "  {:<4} {what}: {measured}",
        if held { "ok" } else { "MISS" }
    );
}

fn run_child(exe: &Path, mode: &str, seconds: Option<u64>) -> Sample {
    let mut command = Command::new(exe);
    command.env(MODE_VAR, mode);
    if let Some(s) = seconds {
        command.env(SECONDS_VAR, s.to_string());
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("starting the {mode} child: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(RESULT_PREFIX));
    match (output.status.success(), line) {
        (true, Some(line)) => serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the {mode} child's result `{line}`: {e}")),
        _ => {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            panic!("the {mode} child failed ({})", output.status);
        }
    }
}

fn median_sample(list: &[Sample]) -> Sample {
    let mut sorted = list.to_vec();
    sorted.sort_by(|a, b| a.wall_seconds.total_cmp(&b.wall_seconds));
    sorted[sorted.len() / 2].clone()
}

/// `/proc/loadavg`'s first three fields: other work on the machine skews wall times.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn print_machine() {
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
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("machine: {cpus} CPUs, {model}; {rustc}");
}

/// Times `squall run card-auth.toml --out <tempdir>` once: start-up, run and report writing.
fn end_to_end() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_squall"));
    println!();
    if !bin.exists() {
        println!("end to end: {} not built, skipped", bin.display());
        return;
    }
    let out = tempfile::tempdir().expect("a temporary directory");
    let start = Instant::now();
    let status = Command::new(&bin)
        .arg("run")
        .arg(scenario_path())
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let wall = start.elapsed().as_secs_f64();
    match status {
        Ok(status) => {
            println!(
                "end to end: `squall run scenarios/card-auth.toml --out <tmp>`: {wall:.3} s wall, {status}"
            );
            aim(
                &format!("end to end under {AIM_END_TO_END_S} s including start-up"),
                format!("{wall:.3} s"),
                wall < AIM_END_TO_END_S,
            );
        }
        Err(e) => println!("end to end: could not start {}: {e}", bin.display()),
    }
}
