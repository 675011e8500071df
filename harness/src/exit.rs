//! Process exit codes, one place: the README, `squall --help` and every
//! subcommand's help list the same ones.

/// Every invariant held.
pub const HELD: i32 = 0;
/// At least one invariant failed.
pub const INVARIANT_FAILED: i32 = 1;
/// Bad input: a scenario file or a command-line argument.
pub const BAD_INPUT: i32 = 2;
/// The environment failed us: Docker unreachable, an image missing, a
/// container that vanished mid-run, a simulation that could not run.
pub const ENVIRONMENT: i32 = 3;
/// Interrupted (Ctrl-C, SIGTERM): squall ended the run itself, so not the
/// shell's 130/143. A Docker run is healed first; a simulated run reports
/// what it measured until then, marked interrupted.
pub const ABORTED: i32 = 4;
/// The former name of [`ABORTED`] (there is no other safety stop).
pub const SAFETY_STOP: i32 = ABORTED;
/// squall itself failed: a panic, a bug in squall (Rust's own code for a
/// panic). During a Docker run the panic hook heals the run first
/// (`docker::abort`).
pub const PANICKED: i32 = 101;
