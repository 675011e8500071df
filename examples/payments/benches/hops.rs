//! What a hop costs when the services are a team's own axum code, against the
//! same topology of squall's fixture services, in the same run.
//!
//! `cargo bench -p payments --bench hops`. Both modes run
//! `scenarios/payments.toml` without its faults (the cost of serving, not of
//! the faults' timeouts) for `SQUALL_BENCH_SECONDS` simulated seconds
//! (default 30), at its 200 requests/s and at 800, `SQUALL_BENCH_RUNS` times
//! each (default 3), alternating, in this process (simulations one after
//! another are the same run). A hop's cost is the marginal one: the extra
//! wall time of the 800/s run over the 200/s run per extra hop, so the
//! simulator's idle ticking (the same for both modes: the same hosts) is left
//! out.
//! - `code`: every service is this crate's axum code (`Variant::Fixed`),
//!   through squall's listener, connector and layers;
//! - `fixture`: the scenario as `squall run` runs it, every service squall's
//!   fixture modelling the file's endpoints and calls.
//!
//! It prints the median wall time per mode and rate, the hops (calls that
//! reached a service, all instances), the marginal wall time per hop, and the
//! ratio code/fixture.
//! Without `--bench` on the command line (`cargo test --all-targets`) it runs
//! a 2-second pass of each mode and judges nothing.

use std::time::{Duration, Instant};

use payments::Variant;
use squall::engine::RunOptions;
use squall::service::Simulation;

const RUNS_VAR: &str = "SQUALL_BENCH_RUNS";
const SECONDS_VAR: &str = "SQUALL_BENCH_SECONDS";

#[derive(Clone, Copy, Debug)]
enum Mode {
    Code,
    Fixture,
}

fn scenario() -> squall::scenario::Scenario {
    let mut scenario = match squall::scenario::load(&payments::scenario_path()) {
        Ok(s) => s,
        Err(e) => panic!("the payments scenario does not load: {e}"),
    };
    scenario.faults.clear();
    scenario
}

/// One run: its wall time and the hops it served.
fn run(mode: Mode, seconds: u64, rate: f64) -> (Duration, u64) {
    let mut scenario = scenario();
    scenario.workload.rate = rate;
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    let report = match mode {
        Mode::Code => {
            let outcome = payments::with_our_services(Simulation::new(scenario), Variant::Fixed)
                .duration(duration)
                .run()
                .unwrap_or_else(|e| panic!("code run failed: {e}"));
            outcome.report
        }
        Mode::Fixture => {
            let opts = RunOptions {
                duration: Some(duration),
                figures_only: true,
                ..RunOptions::default()
            };
            let record = squall::sim::run(&scenario, &opts)
                .unwrap_or_else(|e| panic!("fixture run failed: {e}"));
            let verdicts = squall::invariant::evaluate(&scenario, &record);
            squall::report::Report::build(&scenario, &record, verdicts)
        }
    };
    let wall = started.elapsed();
    let hops = report.services.values().map(|s| s.calls).sum();
    (wall, hops)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let (runs, seconds) = if benching {
        (env_u64(RUNS_VAR, 3).max(1), env_u64(SECONDS_VAR, 30).max(1))
    } else {
        (1, 2)
    };
    const RATES: [f64; 2] = [200.0, 800.0];
    // [mode][rate]
    let mut walls = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut hops = [[0u64; 2]; 2];
    for _ in 0..runs {
        for (m, mode) in [Mode::Code, Mode::Fixture].into_iter().enumerate() {
            for (r, rate) in RATES.into_iter().enumerate() {
                let (wall, served) = run(mode, seconds, rate);
                walls[m][r].push(wall);
                hops[m][r] = served;
            }
        }
    }
    if !benching {
        println!(
            "hops: smoke pass done (code {:?} hops, fixture {:?} hops)",
            hops[0], hops[1]
        );
        return;
    }
    println!("payments without faults, {seconds} simulated s, median of {runs}:");
    let mut per_hop = [0.0f64; 2];
    for (m, name) in ["code", "fixture"].into_iter().enumerate() {
        let wall = [median(walls[m][0].clone()), median(walls[m][1].clone())];
        for (r, rate) in RATES.into_iter().enumerate() {
            println!(
                "  {name:<8} {rate:>4}/s {:>7.2} s wall  {:>7} hops  {:>5.1}x real time",
                wall[r].as_secs_f64(),
                hops[m][r],
                seconds as f64 / wall[r].as_secs_f64()
            );
        }
        let extra_hops = hops[m][1].saturating_sub(hops[m][0]).max(1) as f64;
        per_hop[m] = (wall[1].as_secs_f64() - wall[0].as_secs_f64()) * 1e6 / extra_hops;
        println!("  {name:<8} {:>6.1} us per hop (marginal)", per_hop[m]);
    }
    println!(
        "  code / fixture: {:.2}x per hop",
        per_hop[0] / per_hop[1].max(f64::MIN_POSITIVE)
    );
}
