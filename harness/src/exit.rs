//! Process exit codes, one place, matching the contract in DESIGN.md.

/// Every invariant held.
pub const HELD: i32 = 0;
/// At least one invariant failed.
pub const INVARIANT_FAILED: i32 = 1;
/// Bad input: a scenario file or a command-line argument.
pub const BAD_INPUT: i32 = 2;
/// The environment failed us: Docker unreachable, an image missing, a
/// container that vanished mid-run, a simulation that could not run.
pub const ENVIRONMENT: i32 = 3;
/// Aborted by a safety stop, or interrupted (Ctrl-C, SIGTERM) after healing:
/// squall ended the run itself, so not the shell's 130/143.
pub const SAFETY_STOP: i32 = 4;
/// squall itself failed: a panic, a bug in squall (Rust's own code for a
/// panic). During a Docker run the panic hook heals the run first
/// (`docker::abort`).
pub const PANICKED: i32 = 101;
