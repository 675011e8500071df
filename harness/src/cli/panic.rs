//! The `squall` binary's panic hook: a panic during a Docker run heals
//! every live run by its labels, says so, and ends the process with
//! [`exit::PANICKED`] (docs/docker.md). The library says which runs are live
//! ([`abort::runs_to_heal_after_panic`]); ending the process is the binary's.

use squall::docker::{abort, heal};
use squall::exit;

/// Installs the hook, after the default one (which prints the panic).
pub fn install() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let runs = abort::runs_to_heal_after_panic();
        if runs.is_empty() {
            return;
        }
        let mut healed = true;
        for run in &runs {
            eprintln!("{:>12}  run {run} after a panic", "Healing");
            match heal::heal_run_blocking(run) {
                Ok(h) => eprintln!(
                    "{:>12}  run {run}: {} container(s) removed, {} unpaused, nothing of it is left on the engine",
                    "Healed",
                    h.containers.len(),
                    h.unpaused.len()
                ),
                Err(e) => {
                    healed = false;
                    eprintln!(
                        "error: cannot heal run {run}: {e} (hint: `squall heal --run {run}`)"
                    );
                }
            }
        }
        eprintln!(
            "error: squall panicked during a Docker run (a bug in squall; the message above says where){}",
            if healed {
                "; every fault was healed"
            } else {
                ""
            }
        );
        std::process::exit(exit::PANICKED);
    }));
}
