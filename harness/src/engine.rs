//! What a run is asked to do, whatever the backend: the seed, the length of the
//! load phase, where its reports go.

use std::path::PathBuf;
use std::time::Duration;

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
            RunError::Aborted(_) => crate::exit::SAFETY_STOP,
        }
    }
}
