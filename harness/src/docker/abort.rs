//! A Docker run that ends early still leaves nothing behind.
//!
//! A run changes a shared engine (paused containers, nft tables, a network),
//! so every way out must undo it:
//!
//! | how the run ends | who heals | exit |
//! |---|---|---|
//! | normally, or an error (engine, vanished container) | the run itself, then [`Armed`] if its teardown failed | 0/1, 3 |
//! | Ctrl-C, SIGTERM | the run itself (`run.rs` stops the load phase) | 4 |
//! | a panic, on any thread or tokio task, unwinding or aborting | the `squall` binary's panic hook ([`runs_to_heal_after_panic`]) | [`crate::exit::PANICKED`] |
//! | a panic where no hook is installed (the library in a test) | [`Armed`], dropped while unwinding | the caller's |
//! | SIGKILL | nothing can run: `squall heal` later ([`super::heal`]) | 137 |
//!
//! Why a hook and not only the drop guard: a panic in a spawned task is caught
//! by tokio and comes back as a `JoinError` only if someone awaits the task
//! (request tasks and proxy tasks are not awaited); a panic on a plain thread
//! never unwinds through the run at all; and with `panic = "abort"` nothing
//! unwinds. The hook runs in every one of those cases, before any unwinding
//! or abort, so it heals the live runs by their labels and ends the process
//! itself.
//!
//! Fail points (`fail::fail_point!`, see `run.rs`) let the tests make a real
//! run panic after a fault took effect. They exist only in builds made with
//! `fail/failpoints`, which only the dev-dependency turns on: `cargo test`
//! builds them into the `squall` binary it tests, `cargo build --release`
//! does not, and there `FAILPOINTS` is never read.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::heal;

/// Fail point right after a scheduled fault change took effect, on the
/// thread that drives the run (`FAILPOINTS=docker-after-fault=panic`).
pub const FAIL_AFTER_FAULT: &str = "docker-after-fault";
/// Fail point in a tokio task spawned right after a scheduled fault change
/// took effect, standing for any task of the run
/// (`FAILPOINTS=docker-task-after-fault=panic`).
pub const FAIL_TASK_AFTER_FAULT: &str = "docker-task-after-fault";

/// Runs of this process that are live on the engine (armed, not yet healed).
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Set by the first panic that heals; later panics wait for its exit.
static HEALING: AtomicBool = AtomicBool::new(false);

/// Name of the thread [`heal::heal_run_blocking`] heals on: a panic there
/// must unwind (its join reports it), not wait for itself.
pub const HEAL_THREAD: &str = "squall-heal";

fn live() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run that is on the engine: registered for the panic hook, and healed by
/// its labels if dropped while still armed (an early return, an unwinding
/// panic, a teardown that failed).
#[derive(Default)]
pub struct Armed(Mutex<Option<String>>);

impl Armed {
    /// From now on `run` has objects on the engine.
    pub fn arm(&self, run: &str) {
        live().insert(run.to_owned());
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(run.to_owned());
    }

    /// `run` left nothing on the engine: nothing to heal any more.
    pub fn disarm(&self) {
        if let Some(run) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            live().remove(&run);
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let run = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(run) = run {
            if super::call::not_answering().is_some() {
                // The engine cannot heal anything now; the run's error says
                // what is left and what to do.
                live().remove(&run);
                return;
            }
            tracing::warn!(run, "healing the run after an abort");
            if let Err(e) = heal::heal_run_blocking(&run) {
                tracing::error!(run, error = %e, "cannot heal the run (hint: `squall heal --run {run}`)");
            }
            live().remove(&run);
        }
    }
}

/// Never returns while a panic hook is healing (it ends the process);
/// returns at once otherwise.
///
/// A panic in a task leaves the run going on other threads, and the run
/// would react to the heal (its watch sees containers destroyed) with heals
/// of its own that race the hook's. The run calls this before each change it
/// makes, so it stands still instead.
pub async fn stand_still_while_healing() {
    if HEALING.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
}

/// Returns at once, unless a panic hook is healing a run: then never (that
/// hook ends the process, with [`crate::exit::PANICKED`], once the heal is
/// done). `main` calls it before it exits.
///
/// A panic in a task leaves the run going on other threads; if the run
/// ended and `main` exited meanwhile, the heal would be cut short.
pub fn wait_while_healing() {
    while HEALING.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// For a panic hook: the runs of this process live on the engine, to heal
/// by their labels ([`heal::heal_run_blocking`]) before the process ends.
/// Empty when there is none, or on the thread that heals (a panic there
/// must unwind). Never returns when another thread's panic is already
/// healing: that thread ends the process, and unwinding here could race it.
///
/// The `squall` binary's hook (`cli/panic.rs`) prints, heals and exits with
/// [`crate::exit::PANICKED`]; a library must not end its caller's process.
pub fn runs_to_heal_after_panic() -> Vec<String> {
    if std::thread::current().name() == Some(HEAL_THREAD) {
        return Vec::new();
    }
    let runs: Vec<String> = live().iter().cloned().collect();
    if runs.is_empty() {
        return runs;
    }
    if HEALING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    runs
}
