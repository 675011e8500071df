//! What a run is asked to do, whatever the backend: the seed, the length of the
//! load phase, where its reports go.

use std::path::PathBuf;
use std::time::Duration;

use crate::scenario::{InvariantKind, Scenario};

/// Options of one `squall run`, after the command line was validated.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `seed`.
    pub seed: Option<u64>,
    /// Overrides the scenario's `duration` (the load phase).
    pub duration: Option<Duration>,
    /// Where reports go; `reports/` by default.
    pub out: Option<PathBuf>,
    /// Show progress on stderr while the run goes.
    pub progress: bool,
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
