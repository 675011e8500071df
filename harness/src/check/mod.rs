//! Static analysis of a scenario's timeout budgets and retry policies: what
//! `squall check` reports, without running anything.
//!
//! Much of what goes wrong when a dependency degrades is decidable from the
//! call graph and its policies alone: a caller that gives up while its callee
//! is still retrying (an inverted timeout), an entry that can outlast the
//! workload's deadline, retries that multiply down the layers, calls with no
//! timeout at all. Reach for this module to catch those before a run (the CLI
//! runs it before every `squall run` too); the simulator then shows the harm.
//!
//! The arithmetic is in [`budget`] (worst cases), the walk in [`paths`] (every
//! call path from the workload's entry), the checks in `rules`, and what they
//! report in [`finding`]. docs/check.md has the formulas and the limits.
//!
//! ```
//! use std::path::Path;
//! use squall::check::{analyse, CheckOptions, FindingKind, Severity};
//!
//! let text = r#"
//! duration = "10s"
//! [workload]
//! target = "api"
//! path = "/get"
//! rate = 10
//! deadline = "100ms"
//! [services.api.endpoints."/get"]
//! calls = [{ to = "db", path = "/read", timeout = "40ms", retries = 2, backoff = "5ms" }]
//! [services.db.endpoints."/read"]
//! work = "2ms"
//! "#;
//! let scenario = squall::scenario::parse(text, Path::new("t.toml")).unwrap();
//! let findings = analyse(&scenario, &CheckOptions::default());
//! // 3 × 40ms + (5 + 10)ms backoff = 135ms > the 100ms deadline.
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].kind, FindingKind::DeadlineExceeded);
//! assert_eq!(findings[0].severity, Severity::Error);
//! assert!(findings[0].message.contains("worst case 135ms"));
//! ```

pub mod budget;
pub mod finding;
pub mod paths;
mod rules;

use std::collections::BTreeSet;
use std::time::Duration;

pub use finding::{Finding, FindingKind, Severity};

use crate::scenario::Scenario;

/// Knobs of the analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// Calls per request the deepest service of a path may receive in the
    /// worst case (the product of attempts along the path). Default 10.
    pub max_amplification: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            max_amplification: 10.0,
        }
    }
}

/// Every finding for `scenario`, errors first, then in the order of the call
/// paths (depth first, file order). The same scenario always gives the same
/// list.
pub fn analyse(scenario: &Scenario, options: &CheckOptions) -> Vec<Finding> {
    let mut findings: Vec<Finding> = rules::deadline(scenario).into_iter().collect();
    let paths = paths::call_paths(scenario);
    // A call (or, for propagation, a caller/callee pair) reached by several
    // paths is reported once, on the first path that reaches it.
    let mut calls_seen = BTreeSet::new();
    let mut pairs_seen = BTreeSet::new();
    for path in &paths {
        let hop = path.last();
        let key = (hop.caller.name.as_str(), hop.endpoint, hop.index);
        if calls_seen.insert(key) {
            findings.extend(rules::missing_timeout(scenario, path));
            findings.extend(rules::inverted(scenario, path));
            findings.extend(rules::hedge(path));
        }
        if pairs_seen.insert((hop.caller.name.as_str(), hop.call.to.as_str())) {
            findings.extend(rules::propagation(scenario, path));
        }
    }
    // Products only grow along a path, so the complete paths carry the
    // largest: one finding per deepest service instead of one per layer.
    for path in paths.iter().filter(|p| p.is_complete(scenario)) {
        findings.extend(rules::amplification(path, options));
    }
    findings.sort_by_key(|f| f.severity);
    findings
}

/// The worst case of the workload's entry endpoint; `None` when a call on
/// the way has no timeout.
pub fn entry_worst(scenario: &Scenario) -> Option<Duration> {
    paths::entry(scenario).and_then(|(_, ep)| budget::endpoint_worst(ep))
}

/// The entry's worst case as the workload sees it: [`entry_worst`], cut to
/// the workload's deadline less the fixture's reserve when the entry has
/// `propagate_deadline` (the workload always sends its deadline). `None` when
/// a call on the way has no timeout and nothing cuts it.
pub fn entry_bound(scenario: &Scenario) -> Option<Duration> {
    let propagates = paths::entry(scenario).is_some_and(|(s, _)| s.propagate_deadline);
    let cut = scenario
        .workload
        .deadline
        .saturating_sub(squall_fixture::deadline::RESERVE);
    match entry_worst(scenario) {
        Some(w) if propagates => Some(w.min(cut)),
        None if propagates => Some(cut),
        w => w,
    }
}

/// The largest product of attempts over the call paths, and the path that
/// has it (service names; the last is the service that receives the calls):
/// the first of equals, so a topology without retries names the first
/// callee. `1` and the entry alone when nothing is called.
pub fn peak_amplification(scenario: &Scenario) -> (f64, Vec<String>) {
    let mut peak: Option<(f64, Vec<String>)> = None;
    for path in paths::call_paths(scenario) {
        let product: f64 = path
            .hops
            .iter()
            .map(|h| f64::from(budget::attempts(h.call)))
            .product();
        if peak.as_ref().is_none_or(|(p, _)| product > *p) {
            peak = Some((product, path.services()));
        }
    }
    peak.unwrap_or_else(|| (1.0, vec![scenario.workload.target.clone()]))
}
