//! Walking the call graph: every call path from the workload's entry endpoint
//! down, in file order.
//!
//! Validation refuses call cycles, so the graph is a DAG and every path ends.
//! A DAG can still hold exponentially many paths (a diamond per layer doubles
//! them), so the walk stops at [`MAX_PATHS`]; real topologies are far below it.

use crate::scenario::{Call, Endpoint, Scenario, Service};

/// Paths walked at most; past it the analysis covers the first ones only.
pub const MAX_PATHS: usize = 10_000;

/// One hop of a path: `caller` (its endpoint `endpoint`) makes `call`.
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    pub caller: &'a Service,
    pub endpoint: &'a str,
    /// The position of `call` in the endpoint's `calls`.
    pub index: usize,
    pub call: &'a Call,
}

/// A path from the entry endpoint down to the callee of its last hop.
#[derive(Debug, Clone)]
pub struct CallPath<'a> {
    pub hops: Vec<Hop<'a>>,
}

impl<'a> CallPath<'a> {
    /// The last hop (every path has at least one).
    pub fn last(&self) -> &Hop<'a> {
        self.hops.last().expect("a call path has at least one hop")
    }

    /// Service names from the workload's target down to the last callee.
    pub fn services(&self) -> Vec<String> {
        let mut names = vec![self.hops[0].caller.name.clone()];
        names.extend(self.hops.iter().map(|h| h.call.to.clone()));
        names
    }

    /// Whether the last callee makes no further call: the path cannot grow.
    pub fn is_complete(&self, scenario: &'a Scenario) -> bool {
        let call = self.last().call;
        callee(scenario, call).is_none_or(|(_, ep)| ep.calls.is_empty())
    }
}

/// The service and endpoint a call reaches (validation guarantees both exist).
pub fn callee<'a>(scenario: &'a Scenario, call: &Call) -> Option<(&'a Service, &'a Endpoint)> {
    let service = scenario.services.get(&call.to)?;
    Some((service, service.endpoints.get(&call.path)?))
}

/// The workload's target service and endpoint.
pub fn entry(scenario: &Scenario) -> Option<(&Service, &Endpoint)> {
    let service = scenario.services.get(&scenario.workload.target)?;
    Some((service, service.endpoints.get(&scenario.workload.path)?))
}

/// Every call path from the entry, depth first in file order: each path is
/// followed by its extensions, so a prefix always comes before the paths that
/// grow from it. At most [`MAX_PATHS`].
pub fn call_paths(scenario: &Scenario) -> Vec<CallPath<'_>> {
    let mut out = Vec::new();
    if let Some((service, _)) = entry(scenario) {
        let mut hops = Vec::new();
        walk(
            scenario,
            service,
            &scenario.workload.path,
            &mut hops,
            &mut out,
        );
    }
    out
}

fn walk<'a>(
    scenario: &'a Scenario,
    service: &'a Service,
    path: &'a str,
    hops: &mut Vec<Hop<'a>>,
    out: &mut Vec<CallPath<'a>>,
) {
    let Some(endpoint) = service.endpoints.get(path) else {
        return;
    };
    for (index, call) in endpoint.calls.iter().enumerate() {
        if out.len() >= MAX_PATHS {
            return;
        }
        hops.push(Hop {
            caller: service,
            endpoint: path,
            index,
            call,
        });
        out.push(CallPath { hops: hops.clone() });
        if let Some(next) = scenario.services.get(&call.to) {
            walk(scenario, next, &call.path, hops, out);
        }
        hops.pop();
    }
}
