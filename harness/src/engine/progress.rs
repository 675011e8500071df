//! How far a run is, for whoever shows it: the library reports, the CLI
//! prints (a line rewritten on a terminal, a plain line every few seconds
//! in a CI log). Nothing here decides what a run does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::BackendKind;

/// One thing worth telling about a run in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A Docker run builds `image` (squall's fixture) from the sources in
    /// `workspace`, because the engine does not have it: minutes the first
    /// time, seconds once cargo has built it.
    BuildingImage { image: String, workspace: PathBuf },
    /// A Docker run has its id, and writes its journal at `journal` (what
    /// `squall heal --run` reads if the run dies).
    DockerRun { run: String, journal: PathBuf },
    /// `done` of the load phase's `of` has passed, on the backend's clock;
    /// reported once a second of it.
    Load {
        backend: BackendKind,
        done: Duration,
        of: Duration,
    },
    /// The load phase is over (the last answers are in, or the run stopped).
    LoadEnded,
}

/// Where [`Progress`] goes ([`super::RunOptions::progress`]).
#[derive(Clone)]
pub struct Reporter(pub(crate) Arc<dyn Fn(&Progress) + Send + Sync>);

impl Reporter {
    pub fn new(report: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        Reporter(Arc::new(report))
    }

    pub fn report(&self, progress: &Progress) {
        (self.0)(progress)
    }
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter(..)")
    }
}
