//! From a scenario's services to the configuration of each fixture instance:
//! names, per-instance seeds, endpoints and the replicas each one calls.
//!
//! Both backends start the same fixture with the same configs; only the
//! authority of an instance (`ledger-2:80` in the simulator, a container name
//! on Docker) differs.

use indexmap::IndexMap;
use squall_fixture::{Balancer, BreakerConfig, CallConfig, EndpointConfig, InstanceConfig, Work};

use crate::engine::RunError;
use crate::fault::instances;
use crate::scenario::{self, Scenario};

/// The port every fixture instance listens on.
pub const PORT: u16 = 80;

/// The authority (`host:port`) an instance is reached at.
pub fn authority(instance: &str) -> String {
    format!("{instance}:{PORT}")
}

/// A well-mixed 64-bit value from a seed and a stream number (SplitMix64), so
/// each instance gets its own, independent stream from the run's one seed.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The configuration of every instance, in file order. Every policy of the
/// scenario model maps onto the fixture; the `Result` stays for features a
/// backend may refuse.
pub fn instance_configs(scenario: &Scenario, seed: u64) -> Result<Vec<InstanceConfig>, RunError> {
    let topology = instances(scenario);
    let mut out = Vec::new();
    let mut stream = 1u64;
    for (name, svc) in &scenario.services {
        let balancer = match svc.balancer {
            scenario::Balancer::RoundRobin => Balancer::RoundRobin,
            scenario::Balancer::Random => Balancer::Random,
            scenario::Balancer::P2cEwma => Balancer::P2cEwma,
            scenario::Balancer::EpsilonGreedy => Balancer::EpsilonGreedy,
        };
        let breaker = svc.breaker.map(|b| BreakerConfig {
            failures: b.failures,
            cooldown: b.cooldown,
        });
        let mut endpoints = IndexMap::new();
        let mut upstreams: IndexMap<String, Vec<String>> = IndexMap::new();
        for (path, ep) in &svc.endpoints {
            let mut calls = Vec::new();
            for call in &ep.calls {
                let replicas = topology.get(&call.to).cloned().unwrap_or_default();
                upstreams
                    .entry(call.to.clone())
                    .or_insert_with(|| replicas.iter().map(|i| authority(i)).collect());
                calls.push(CallConfig {
                    to: call.to.clone(),
                    path: call.path.clone(),
                    timeout: call.timeout,
                    retries: call.retries,
                    backoff: call.backoff,
                    required: call.required,
                    group: call.group,
                    hedge: call.hedge,
                    retry_budget: call.retry_budget,
                });
            }
            let work = match ep.work {
                scenario::Work::Fixed(d) => Work::Fixed(d),
                scenario::Work::Mean(d) => Work::Mean(d),
                scenario::Work::Percentiles { p50, p99 } => Work::Percentiles { p50, p99 },
            };
            endpoints.insert(
                path.clone(),
                EndpointConfig {
                    work,
                    error_rate: ep.error_rate,
                    calls,
                },
            );
        }
        for instance in topology.get(name).into_iter().flatten() {
            out.push(InstanceConfig {
                service: name.clone(),
                instance: instance.clone(),
                port: PORT,
                seed: derive_seed(seed, stream),
                balancer,
                breaker,
                propagate_deadline: svc.propagate_deadline,
                concurrency_limit: svc.concurrency_limit,
                endpoints: endpoints.clone(),
                upstreams: upstreams.clone(),
            });
            stream += 1;
        }
    }
    Ok(out)
}
