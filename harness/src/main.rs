//! The `squall` command: parse the command line, hand over to [`cli`], exit
//! with the code the contract names (see `squall::exit`).

mod cli;

fn main() {
    // Only in builds with `fail/failpoints` (`cargo test`): fail points named
    // in `FAILPOINTS` take effect. Elsewhere the variable is never read.
    let _failpoints = fail::has_failpoints().then(fail::FailScenario::setup);
    // A panic during a Docker run heals it and exits 101 (docs/docker.md).
    cli::panic::install();
    let code = cli::main();
    squall::docker::abort::wait_while_healing();
    std::process::exit(code);
}
