//! How far a run is, on stderr: one line rewritten each second on a
//! terminal; in a CI log (stderr not a terminal), a plain line every
//! [`LOG_EVERY`] of wall time, so a long run shows it is alive without
//! flooding the log. The wall clock only decides when to print.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use squall::engine::{BackendKind, Progress, Reporter};

/// How often a run whose stderr is not a terminal says how far it is.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The reporter `squall run` gives the library.
pub fn reporter() -> Reporter {
    let tty = std::io::stderr().is_terminal();
    let last_logged = Mutex::new(Instant::now());
    Reporter::new(move |p| {
        let mut err = std::io::stderr().lock();
        match p {
            Progress::BuildingImage { image, workspace } => {
                let _ = writeln!(
                    err,
                    "{:>12}  {image}: not on the engine, building it from {} (offline; minutes the first time)",
                    "Building",
                    workspace.display()
                );
            }
            Progress::DockerRun { run, journal } => {
                let _ = writeln!(
                    err,
                    "{:>12}  run {run} (journal {})",
                    "Docker",
                    journal.display()
                );
            }
            Progress::Load { backend, done, of } => {
                let clock = match backend {
                    BackendKind::Sim => "simulated",
                    BackendKind::Docker | BackendKind::Gameday => "of load",
                };
                let line = format!(
                    "{:>12}  {}s of {}s {clock}",
                    "Running",
                    done.as_secs(),
                    of.as_secs()
                );
                if tty {
                    let _ = write!(err, "\r{line}");
                } else {
                    let mut last = last_logged.lock().unwrap_or_else(|e| e.into_inner());
                    if last.elapsed() >= LOG_EVERY {
                        *last = Instant::now();
                        let _ = writeln!(err, "{line}");
                    }
                }
            }
            Progress::LoadEnded => {
                if tty {
                    let _ = write!(err, "\r{:60}\r", "");
                }
            }
        }
    })
}
