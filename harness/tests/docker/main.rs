//! The Docker backend against the real engine. These tests need a Docker
//! engine and root (nft in container namespaces); when the engine cannot be
//! reached they FAIL with a message saying so, never skip.
//!
//! The fixture image is built once per test binary, offline (static binary,
//! `FROM scratch`). Tests run one at a time (a lock): timings on two cores
//! must not be disturbed by another run. Every test ends by checking that
//! nothing of squall's is left on the engine.

mod abort;
mod churn;
mod compose;
mod faults;
mod gameday;
mod heal;
mod scenarios;
mod traces;
mod unanswering;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};

use bollard::Docker;

/// One Docker test at a time.
static SERIAL: Mutex<()> = Mutex::new(());
static IMAGE: OnceLock<Result<(), String>> = OnceLock::new();

/// The test that found the engine's networking wedged, once one did.
static WEDGED: OnceLock<String> = OnceLock::new();

/// How long the network API may take to answer before the engine is called wedged.
const WEDGE_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Takes the lock, makes sure the engine answers and the fixture image exists.
///
/// A wedged engine (docs/docker.md, "The engine deadlock") fails the first
/// test that meets it with the whole story, and every later test with one
/// line pointing at that failure, rather than each failing on another
/// test's leftovers after a timeout of its own.
pub fn setup() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(first) = WEDGED.get() {
        panic!("the Docker engine's networking is wedged (found by `{first}`, see its failure): this test cannot run");
    }
    if let Err(e) = rt().block_on(engine_answers(WEDGE_WAIT)) {
        let me = std::thread::current()
            .name()
            .unwrap_or("a Docker test")
            .to_owned();
        let _ = WEDGED.set(me);
        panic!(
            "THE DOCKER ENGINE'S NETWORKING IS WEDGED: {e}. Most likely the libnetwork deadlock of \
             Docker 20.10 before 20.10.27 (docs/docker.md, \"The engine deadlock\"), set off by an \
             earlier test or by something else on this engine. Every Docker test after this one \
             fails with one line pointing here. Restart dockerd, then run `squall heal --all`."
        );
    }
    let built = IMAGE.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let binary =
            squall::docker::image::build_static_fixture(workspace).map_err(|e| e.to_string())?;
        rt().block_on(async {
            let (docker, _) = squall::docker::connect().await.map_err(|e| e.to_string())?;
            squall::docker::image::build(&docker, &binary)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        })
    });
    if let Err(e) = built {
        panic!("the Docker tests need a reachable Docker engine and the fixture image: {e}");
    }
    guard
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn docker() -> Docker {
    match squall::docker::connect().await {
        Ok((d, _)) => d,
        Err(e) => panic!("the Docker tests need a reachable Docker engine: {e}"),
    }
}

/// Whether the engine's network API (what the libnetwork deadlock wedges)
/// answers within `limit`.
pub async fn engine_answers(limit: std::time::Duration) -> Result<(), String> {
    let docker = docker().await;
    let list = docker.list_networks(None::<bollard::query_parameters::ListNetworksOptions>);
    match tokio::time::timeout(limit, list).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("listing networks failed: {e}")),
        Err(_) => Err(format!("listing networks got no answer in {limit:?}")),
    }
}

/// Everything of squall's on the engine (of one run, or all): containers,
/// networks, and squall nft tables in the host's namespace.
pub async fn leftovers(run: Option<&str>) -> Vec<String> {
    let docker = docker().await;
    let mut out: Vec<String> = squall::docker::container::list(&docker, run)
        .await
        .unwrap()
        .into_iter()
        .map(|c| format!("container {} ({})", c.name, c.state))
        .collect();
    out.extend(
        squall::docker::heal::networks(&docker, run)
            .await
            .unwrap()
            .into_iter()
            .map(|(n, _)| format!("network {n}")),
    );
    if let Ok(o) = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
    {
        out.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("squall_"))
                .map(|l| format!("host {l}")),
        );
    }
    out
}

/// Asserts that nothing of squall's is left.
pub async fn assert_clean(run: Option<&str>) {
    let left = leftovers(run).await;
    assert!(left.is_empty(), "squall left this on the engine: {left:#?}");
}

/// The run id a `squall run --backend docker` prints on stderr when it
/// starts (`      Docker  run r1234abcd (journal ...)`); empty if it never does.
pub fn read_run_id(stderr: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.trim().strip_prefix("Docker  run ") {
            return rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        line.clear();
    }
    String::new()
}

/// Heals a run if the test panics before its own teardown.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = squall::docker::heal::heal_run_blocking(&self.0);
        }
    }
}

/// A scenario from TOML text.
pub fn scenario(text: &str) -> squall::scenario::Scenario {
    squall::scenario::parse(text, Path::new("test.toml")).unwrap()
}

/// A pause, a one-way partition and a latency fault from 1 s to the end of a
/// 30 s run: every kind of state squall leaves in a container (a frozen
/// cgroup, nft rules, a proxy redirect).
pub const FROZEN: &str = r#"
duration = "30s"
workload = { target = "a", path = "/x", rate = 20, deadline = "500ms" }
[services.a]
[services.a.endpoints."/x"]
calls = [{ to = "b", path = "/y", timeout = "200ms" }]
[services.b]
replicas = 2
[services.b.endpoints."/y"]
work = "1ms"
[[faults]]
kind = "pause"
target = "b-1"
at = "1s"
[[faults]]
kind = "partition"
between = [["a"], ["b-2"]]
direction = "one-way"
at = "1s"
[[faults]]
kind = "latency"
target = "a-1"
delay = "20ms"
at = "1s"
"#;
