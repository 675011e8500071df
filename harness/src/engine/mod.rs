//! The run core: what every backend shares, so that a scenario means the same
//! thing in the simulator and on Docker.
//!
//! - [`BackendKind`]: which backends exist, and what each cannot do, found when a
//!   file is loaded ([`BackendKind::check`]), before anything runs.
//! - [`Timeline`]: the plan's injections and heals in the order they apply.
//! - [`FaultState`] and [`Desired`]: the faults in force, as a multiset, and
//!   the state they want every instance and link in; a backend applies only
//!   the difference from what it has.
//! - [`request`]: one workload request, what it carries, when its caller
//!   gives up and how it ended.
//! - [`RunOptions`], [`RunError`], [`Shortening`]: what a run is asked to do,
//!   why it could not, what a shorter `--duration` cut.
//! - [`run`]: the one run loop, from the plan to the record, generic over a
//!   [`Backend`]: the small trait a place to run implements (bring the
//!   topology up, let its clock run, put instances and links into a wanted
//!   state, hand over spans and counters, tear down).
//! - [`load`] and [`collect`]: the workload driver every backend runs, and
//!   the figures gathered as answers and spans come in.
//! - [`Progress`]: how far a run is, for the CLI to show.
//!
//! docs/architecture.md shows where each backend's code sits.

pub mod backend;
pub mod collect;
mod desired;
pub mod load;
pub mod progress;
pub mod request;
mod run;
mod timeline;
pub mod timer;

use std::path::PathBuf;
use std::time::Duration;

use crate::scenario::{FaultKind, InvariantKind, Scenario, ScenarioError};

pub use backend::Backend;
pub use desired::{Desired, FaultState, LinkDelay};
pub use progress::{Progress, Reporter};
pub use run::run;
pub use timeline::{Step, Timeline};

/// Where a run happens (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum BackendKind {
    /// turmoil: deterministic, in-process, seconds for a simulated minute.
    #[default]
    Sim,
    /// Real containers through the Docker engine.
    Docker,
    /// Containers that already run, attached to by `squall gameday`
    /// ([`crate::gameday`]); not a `--backend` of `squall run`.
    #[value(skip)]
    Gameday,
}

impl BackendKind {
    /// `sim` or `docker`, as reports and `--backend` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sim => "sim",
            BackendKind::Docker => "docker",
            BackendKind::Gameday => "gameday",
        }
    }

    /// Refuses what this backend cannot do with `scenario`, at the fault's
    /// place in the file, so that `squall run a.toml b.toml` stops before the
    /// first run rather than after it.
    pub fn check(self, scenario: &Scenario) -> Result<(), ScenarioError> {
        if self == BackendKind::Gameday {
            // What a game day can do depends on what runs: its plan decides
            // (`gameday::plan`).
            return Ok(());
        }
        if let Some(gameday) = &scenario.gameday {
            // Run, it would build its own topology and fault that, as if the
            // section were not there: refused rather than ignored.
            return Err(ScenarioError {
                path: scenario.path.clone(),
                line: gameday.line,
                col: gameday.col,
                message: "a `[gameday]` file attaches to a running system; `squall run` and `squall explore` build their own topology and cannot run it".to_owned(),
                hint: Some("run it with `squall gameday plan` and `squall gameday run` (docs/gameday.md); without the section and the faults' `mode`, the file runs as a topology of its own".to_owned()),
            });
        }
        if let (BackendKind::Sim, Some(compose)) = (self, &scenario.docker.compose) {
            let from_compose: Vec<String> = scenario
                .services
                .values()
                .filter(|s| s.docker.compose.is_some())
                .map(|s| format!("`{}`", s.name))
                .collect();
            return Err(ScenarioError {
                path: scenario.path.clone(),
                line: compose.line,
                col: compose.col,
                message: format!(
                    "the simulator cannot run services from a compose file ({}): it has no model of their images",
                    from_compose.join(", ")
                ),
                hint: Some("run it with `--backend docker`".to_owned()),
            });
        }
        for fault in &scenario.faults {
            let refuse = |message: String, hint: &str| ScenarioError {
                path: scenario.path.clone(),
                line: fault.line,
                col: fault.col,
                message,
                hint: Some(hint.to_owned()),
            };
            match (self, &fault.kind) {
                (BackendKind::Sim, FaultKind::Loss { .. }) => {
                    return Err(refuse(
                        "`loss` is not supported in the simulator: turmoil 0.7.2 has no TCP \
                         retransmission, so one dropped segment stalls a connection for good"
                            .to_owned(),
                        "model it with `latency` and `jitter` or a `partition`, or run with \
                         `--backend docker`",
                    ))
                }
                (BackendKind::Docker, FaultKind::Error { target, .. }) => {
                    // squall's fixture takes it through its admin endpoint; any other
                    // image through the proxy, which must know the HTTP port.
                    let service = &scenario.services[target.service()];
                    if let (Some(compose), None) = (&service.docker.compose, service.docker.port) {
                        return Err(refuse(
                            format!(
                                "`error` on `{}` needs the port it serves HTTP on, and its compose service ({}) has no `ports` or `expose`",
                                service.name, compose.at
                            ),
                            "add its container port, like `ports: [\"8080\"]`: squall's proxy answers a fraction of the requests there",
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Polls `future` once and returns its output: for a backend whose futures
/// never wait (the simulator steps turmoil on the calling thread), the run
/// core's loop needs no executor. `None` if it did wait.
pub fn ready<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Options of one `squall run`, after the command line was validated.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `seed`.
    pub seed: Option<u64>,
    /// Overrides the scenario's `duration` (the load phase).
    pub duration: Option<Duration>,
    /// Where reports go; `reports/` by default.
    pub out: Option<PathBuf>,
    /// Told how far the run is as it goes (the CLI prints it on stderr).
    pub progress: Option<Reporter>,
    /// Keep only the figures the invariants and reports need, in memory that does
    /// not grow with the run's length (what `squall run` and `explore` do). Off, the
    /// simulator's record also holds every request and its trace
    /// ([`RunRecord::requests`](crate::record::RunRecord), `traces`), for tests that
    /// look at them; memory then grows with every request.
    pub figures_only: bool,
}

/// Why a run could not produce a record.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario asks for something this backend cannot do (exit 2).
    #[error("{0}")]
    Unsupported(String),
    /// The backend itself failed: the simulation stopped, the engine vanished (exit 3).
    #[error("{0}")]
    Backend(String),
    /// Stopped from outside (Ctrl-C, SIGTERM) after undoing its faults (exit 4).
    #[error("aborted: {0}")]
    Aborted(String),
}

impl RunError {
    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Unsupported(_) => crate::exit::BAD_INPUT,
            RunError::Backend(_) => crate::exit::ENVIRONMENT,
            RunError::Aborted(_) => crate::exit::ABORTED,
        }
    }
}

/// What a `--duration` shorter than the scenario's own cut from its fault
/// schedule: the faults left out (they start after the end) and the faults
/// clipped (they would heal after the end, so they last to it). Said before
/// the run and in every verdict that then has nothing to judge, so a
/// shortened run that fails says why, and how long a run keeps them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortening {
    /// The load phase asked for.
    pub duration: Duration,
    /// Faults left out: (position in `[[faults]]` from 1, start).
    pub dropped: Vec<(usize, Duration)>,
    /// Faults that no longer heal: (position from 1, heal time as written).
    pub clipped: Vec<(usize, Duration)>,
    /// The shortest load phase that keeps every fault and its heal, plus the
    /// recovery window (the `recovery` invariant's `within`, at least
    /// [`MIN_RECOVERY`]) after the last heal.
    pub keeps_all: Duration,
}

/// Recovery window a shortened run should keep after the last heal when no
/// `recovery` invariant asks for a longer one (the Docker tests use the same).
pub const MIN_RECOVERY: Duration = Duration::from_secs(2);

/// The recovery window a run of `scenario` should keep after its last heal:
/// the `recovery` invariant's `within`, at least [`MIN_RECOVERY`].
pub fn recovery_window(scenario: &Scenario) -> Duration {
    scenario
        .invariants
        .iter()
        .filter_map(|inv| match inv.kind {
            InvariantKind::Recovery { within } => Some(within),
            _ => None,
        })
        .fold(MIN_RECOVERY, Duration::max)
}

impl Shortening {
    /// What `duration` cuts from `scenario`'s faults; `None` when it cuts
    /// nothing (no `--duration`, or one that keeps every fault whole).
    pub fn of(scenario: &Scenario, duration: Option<Duration>) -> Option<Self> {
        let duration = duration?;
        let mut dropped = Vec::new();
        let mut clipped = Vec::new();
        let mut last = Duration::ZERO;
        for (i, f) in scenario.faults.iter().enumerate() {
            let end = f.until;
            last = last.max(end.unwrap_or(f.at));
            if f.at >= duration {
                dropped.push((i + 1, f.at));
            } else if let Some(end) = end.filter(|&e| e > duration) {
                clipped.push((i + 1, end));
            }
        }
        if dropped.is_empty() && clipped.is_empty() {
            return None;
        }
        Some(Shortening {
            duration,
            dropped,
            clipped,
            keeps_all: last + recovery_window(scenario),
        })
    }

    /// One line: `--duration 10s leaves out faults 1 and 2 (they start at 10s
    /// and 15s)`, and what clipped.
    pub fn describe(&self) -> String {
        let d = crate::report::fmt_duration;
        let mut parts = Vec::new();
        if !self.dropped.is_empty() {
            parts.push(format!(
                "leaves out {} (starting at {})",
                numbered("fault", &self.dropped),
                list(self.dropped.iter().map(|&(_, t)| d(t)).collect())
            ));
        }
        if !self.clipped.is_empty() {
            parts.push(format!(
                "cuts {} short (healing at {}, after the end: lasting to it)",
                numbered("fault", &self.clipped),
                list(self.clipped.iter().map(|&(_, t)| d(t)).collect())
            ));
        }
        format!("--duration {} {}", d(self.duration), parts.join(", and "))
    }

    /// The hint for a verdict that has nothing to judge because of it.
    pub fn hint(&self) -> String {
        format!(
            "(hint: {}; --duration {} or more keeps every fault, its heal and a recovery window)",
            self.describe(),
            crate::report::fmt_duration(self.keeps_all)
        )
    }
}

/// `fault 2` or `faults 1 and 3`.
fn numbered(noun: &str, items: &[(usize, Duration)]) -> String {
    let numbers: Vec<String> = items.iter().map(|(n, _)| n.to_string()).collect();
    if numbers.len() == 1 {
        format!("{noun} {}", numbers[0])
    } else {
        format!("{noun}s {}", list(numbers))
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(mut items: Vec<String>) -> String {
    match items.len() {
        0 | 1 => items.pop().unwrap_or_default(),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} and {last}", items.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str = r#"duration = "10s"
[workload]
target = "api"
path = "/"
rate = 10
deadline = "100ms"
[services.api.endpoints."/"]
calls = [{ to = "ledger", path = "/x", timeout = "50ms" }]
[services.ledger.endpoints."/x"]
work = "1ms"
"#;

    fn scenario(extra: &str) -> Scenario {
        let text = format!("{BASE}{extra}");
        crate::scenario::parse(&text, Path::new("t.toml")).unwrap()
    }

    const ERROR_FAULT: &str = "[[faults]]\nkind = \"error\"\ntarget = \"ledger\"\nstatus = 503\nrate = 0.5\nat = \"1s\"\n";

    #[test]
    fn the_simulator_refuses_loss_at_the_fault() {
        let s =
            scenario("[[faults]]\nkind = \"loss\"\ntarget = \"ledger\"\nrate = 0.1\nat = \"1s\"\n");
        let error = BackendKind::Sim.check(&s).unwrap_err().to_string();
        assert!(
            error.starts_with("t.toml:12:8: `loss` is not supported in the simulator"),
            "{error}"
        );
        assert!(error.contains("--backend docker"), "{error}");
        BackendKind::Docker.check(&s).unwrap();
    }

    #[test]
    fn docker_takes_error_on_any_image() {
        let own = scenario(&format!(
            "[services.ledger.docker]\nimage = \"acme/ledger:1.4\"\nport = 8080\n{ERROR_FAULT}"
        ));
        BackendKind::Docker.check(&own).unwrap();
        BackendKind::Sim.check(&own).unwrap();
        BackendKind::Docker.check(&scenario(ERROR_FAULT)).unwrap();
        let named = scenario(&format!(
            "[docker]\nimage = \"{}\"\n{ERROR_FAULT}",
            crate::docker::image::FIXTURE_IMAGE
        ));
        BackendKind::Docker.check(&named).unwrap();
    }

    #[test]
    fn a_game_day_file_is_refused_by_both_backends_at_its_section() {
        let s = scenario(
            "[[faults]]\nkind = \"kill\"\ntarget = \"ledger\"\nat = \"1s\"\nfor = \"2s\"\n[gameday]\nproject = \"staging\"\nallow = [\"ledger\"]\n",
        );
        for kind in [BackendKind::Sim, BackendKind::Docker] {
            let error = kind.check(&s).unwrap_err().to_string();
            assert!(
                error.starts_with("t.toml:16:1: a `[gameday]` file attaches to a running system"),
                "{error}"
            );
        }
    }
}
