//! Shrinking a failing case to a schedule a person can read: fewer faults,
//! shorter, later, milder, still failing the same invariant.
//!
//! Two stages. First proptest's value tree is walked by hand
//! (`simplify` after a candidate that still fails, `complicate` after one that
//! passes), every candidate run in the simulator, within [`MAX_SHRINK_RUNS`].
//! Then, because proptest tries removing a fault only before it shrinks the
//! others, a last pass removes single faults from the concrete schedule until
//! every removal makes the run pass: the result is one-minimal, whatever the
//! budget left.

use std::collections::BTreeMap;

use super::strategy::{Case, Space};
use crate::scenario::Fault;

/// Simulator runs the value-tree stage may spend.
pub const MAX_SHRINK_RUNS: usize = 150;

/// What shrinking found; `O` is what one run says (explore's
/// [`RunOutcome`](super::worker::RunOutcome)).
#[derive(Debug, Clone)]
pub struct Shrunk<O> {
    /// The smallest failing schedule of explored faults.
    pub faults: Vec<Fault>,
    /// What running that schedule said.
    pub outcome: O,
    /// Simulator runs spent, both stages.
    pub runs: usize,
    /// False when the value-tree stage ran out of budget (the schedule is
    /// still one-minimal: no single fault can be removed).
    pub complete: bool,
}

/// Shrinks `case`, whose schedule failed. `run` runs one schedule of explored
/// faults; `fails` says whether what it said is still the failure being
/// shrunk (the same invariant: explore compares [`InvariantId`]s, not
/// labels). `progress` sees the runs spent and the faults of each candidate.
///
/// [`InvariantId`]: crate::scenario::InvariantId
pub fn shrink<O: Clone>(
    space: &Space,
    case: &mut Case,
    mut run: impl FnMut(&[Fault]) -> O,
    fails: impl Fn(&O) -> bool,
    mut progress: impl FnMut(usize, usize),
) -> Shrunk<O> {
    // Many raw draws map onto the same schedule (a drawn instance that wraps
    // round, a fault the limits drop): each schedule runs once.
    let mut seen: BTreeMap<String, O> = BTreeMap::new();
    let mut runs = 0;
    let mut check = |faults: &[Fault], runs: &mut usize| -> O {
        let key = format!("{faults:?}");
        if let Some(failed) = seen.get(&key) {
            return failed.clone();
        }
        *runs += 1;
        let failed = run(faults);
        seen.insert(key, failed.clone());
        failed
    };

    let mut best = space.schedule(&case.kinds, &case.tree.current());
    let mut best_failed = check(&best, &mut runs);
    let mut complete = true;
    if fails(&best_failed) && case.tree.simplify() {
        loop {
            if runs >= MAX_SHRINK_RUNS {
                complete = false;
                break;
            }
            let candidate = space.schedule(&case.kinds, &case.tree.current());
            let failed = check(&candidate, &mut runs);
            progress(runs, candidate.len());
            let more = if fails(&failed) {
                best = candidate;
                best_failed = failed;
                case.tree.simplify()
            } else {
                case.tree.complicate()
            };
            if !more {
                break;
            }
        }
    }

    // One-minimal: no single fault can go (down to `min_faults`: a schedule
    // of the space has at least that many).
    'removal: loop {
        if best.len() <= space.config.min_faults {
            break;
        }
        for i in 0..best.len() {
            let mut candidate = best.clone();
            candidate.remove(i);
            let failed = check(&candidate, &mut runs);
            progress(runs, candidate.len());
            if fails(&failed) {
                best = candidate;
                best_failed = failed;
                continue 'removal;
            }
        }
        break;
    }
    Shrunk {
        faults: best,
        outcome: best_failed,
        runs,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::scenario::{FaultKind, LinkScope};

    const TEXT: &str = r#"
duration = "30s"
[workload]
target = "api"
path = "/get"
rate = 100
deadline = "200ms"
[services.api.endpoints."/get"]
calls = [{ to = "db", path = "/read", timeout = "50ms" }]
[services.db]
replicas = 2
[services.db.endpoints."/read"]
work = "1ms"
[explore]
kinds = ["latency", "kill"]
targets = ["db", "api"]
min_faults = 1
max_faults = 8
"#;

    /// A stand-in for the simulator: "fails" when a kill of db-2 overlaps
    /// any fault on db-1.
    fn fails(faults: &[Fault]) -> Vec<String> {
        let on = |f: &Fault, name: &str| match &f.kind {
            FaultKind::Kill { target }
            | FaultKind::Latency {
                scope: LinkScope::Instance(target),
                ..
            } => target.to_string() == name,
            _ => false,
        };
        let end = |f: &Fault| f.until.unwrap_or(Duration::MAX);
        let hit = faults.iter().any(|a| {
            matches!(a.kind, FaultKind::Kill { .. })
                && on(a, "db-2")
                && faults
                    .iter()
                    .any(|b| on(b, "db-1") && a.at < end(b) && b.at < end(a))
        });
        if hit {
            vec!["answered".into()]
        } else {
            vec![]
        }
    }

    #[test]
    fn shrinks_to_the_two_faults_that_matter() {
        let scenario = crate::scenario::parse(TEXT, Path::new("t.toml")).unwrap();
        let config = scenario.explore.clone().unwrap();
        let space = Space::new(&scenario, config, Duration::from_secs(30)).unwrap();
        let mut found = None;
        for n in 0..500 {
            let case = space.case(11, n);
            if !fails(&space.schedule(&case.kinds, &case.tree.current())).is_empty() {
                found = Some(case);
                break;
            }
        }
        let mut case = found.expect("some case fails");
        let answered = |f: &Vec<String>| f.iter().any(|l| l == "answered");
        let shrunk = shrink(&space, &mut case, fails, answered, |_, _| {});
        assert_eq!(shrunk.faults.len(), 2, "{:#?}", shrunk.faults);
        for i in 0..2 {
            let mut less = shrunk.faults.clone();
            less.remove(i);
            assert!(fails(&less).is_empty());
        }
        assert!(shrunk.runs <= MAX_SHRINK_RUNS + 2);
    }
}
