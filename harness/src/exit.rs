//! Process exit codes, one place, matching the contract in DESIGN.md.

/// Every invariant held.
pub const HELD: i32 = 0;
/// At least one invariant failed.
pub const INVARIANT_FAILED: i32 = 1;
/// Bad input: a scenario file or a command-line argument.
pub const BAD_INPUT: i32 = 2;
/// The environment failed us: Docker unreachable, an image missing, a
/// simulation that could not run.
pub const ENVIRONMENT: i32 = 3;
/// Aborted by a safety stop.
pub const SAFETY_STOP: i32 = 4;
