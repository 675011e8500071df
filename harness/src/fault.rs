//! The fault schedule, resolved: which instances and links each `[[faults]]`
//! entry touches, and when it starts and heals.
//!
//! Resolution is backend-independent: targets (`ledger`, `ledger-2`,
//! `ledger:1`) become instance names, partitions become directed cuts, latency
//! becomes per-link delays. A backend then applies [`Effect`]s; because faults
//! may overlap, it keeps the multiset of active effects and reconciles the real
//! state with it, so healing one fault never undoes another.

use std::time::Duration;

use indexmap::IndexMap;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::{FaultKind, LinkScope, Scenario, Target};

/// The name of the workload's own host, a peer of every instance.
pub const WORKLOAD_HOST: &str = "workload";

/// The instances of each service, in file order: `ledger` -> `ledger-1`, ...
pub fn instances(scenario: &Scenario) -> IndexMap<String, Vec<String>> {
    scenario
        .services
        .iter()
        .map(|(name, svc)| {
            let names = (1..=svc.replicas).map(|i| format!("{name}-{i}")).collect();
            (name.clone(), names)
        })
        .collect()
}

/// One change a fault makes, on one instance or one link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// The instance is down (crashed) until healed, then started again.
    Down(String),
    /// The instance restarts at once (in-flight work is lost).
    Restart(String),
    /// The instance is frozen: nothing reaches it or leaves it until healed.
    Pause(String),
    /// Traffic from `from` to `to` is dropped.
    Cut { from: String, to: String },
    /// Round trips on the link `a`-`b` (a < b) take `delay` longer, plus up to
    /// `jitter`.
    Delay {
        a: String,
        b: String,
        delay: Duration,
        jitter: Duration,
    },
    /// A fraction (per million) of packets on the link `a`-`b` is lost.
    Loss { a: String, b: String, ppm: u32 },
    /// The instance answers `status` to a fraction (per million) of requests.
    Error {
        instance: String,
        status: u16,
        ppm: u32,
    },
}

/// What kind of fault a planned or applied fault is: the scenario's `kind`,
/// without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultClass {
    Kill,
    Restart,
    Pause,
    Isolate,
    Latency,
    Loss,
    Partition,
    Error,
}

impl FaultClass {
    /// The class of a scenario fault.
    pub fn of(kind: &FaultKind) -> Self {
        match kind {
            FaultKind::Kill { .. } => FaultClass::Kill,
            FaultKind::Restart { .. } => FaultClass::Restart,
            FaultKind::Pause { .. } => FaultClass::Pause,
            FaultKind::Isolate { .. } => FaultClass::Isolate,
            FaultKind::Latency { .. } => FaultClass::Latency,
            FaultKind::Loss { .. } => FaultClass::Loss,
            FaultKind::Partition { .. } => FaultClass::Partition,
            FaultKind::Error { .. } => FaultClass::Error,
        }
    }

    /// The name a scenario file gives it (`kind = "kill"`), as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultClass::Kill => "kill",
            FaultClass::Restart => "restart",
            FaultClass::Pause => "pause",
            FaultClass::Isolate => "isolate",
            FaultClass::Latency => "latency",
            FaultClass::Loss => "loss",
            FaultClass::Partition => "partition",
            FaultClass::Error => "error",
        }
    }
}

impl std::fmt::Display for FaultClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `[[faults]]` entry, resolved for one run.
#[derive(Debug, Clone)]
pub struct PlannedFault {
    pub index: usize,
    pub kind: FaultClass,
    pub detail: String,
    /// Instances, or `a<->b` / `a->b` links, it touches.
    pub targets: Vec<String>,
    /// The instances its targets resolved to (the other end of a link or a
    /// cut is a peer, not taken): what a game day's rails count.
    pub taken: Vec<String>,
    pub start: Duration,
    /// `None`: lasts to the end of the load phase.
    pub end: Option<Duration>,
    pub effects: Vec<Effect>,
}

impl From<PlannedFault> for crate::record::AppliedFault {
    /// The fault as a backend applied it: its plan, without the effects.
    fn from(f: PlannedFault) -> Self {
        crate::record::AppliedFault {
            index: f.index,
            kind: f.kind,
            detail: f.detail,
            targets: f.targets,
            start: f.start,
            end: f.end,
        }
    }
}

/// Resolves the scenario's faults for a load phase of `duration` (which may be
/// shorter than the scenario's own, with `--duration`): faults that would start
/// after it are left out, faults that would heal after it last to the end.
pub fn plan(scenario: &Scenario, seed: u64, duration: Duration) -> Vec<PlannedFault> {
    plan_among(scenario, seed, duration, &instances(scenario))
}

/// [`plan`], with each target picked among `targets` (per service, the
/// instances a fault may take: on a game day, those both keys allow) while
/// every instance of the scenario stays a peer (what an isolated instance is
/// cut off from).
pub fn plan_among(
    scenario: &Scenario,
    seed: u64,
    duration: Duration,
    targets: &IndexMap<String, Vec<String>>,
) -> Vec<PlannedFault> {
    let topology = targets;
    let mut hosts: Vec<String> = instances(scenario).into_values().flatten().collect();
    hosts.push(WORKLOAD_HOST.to_owned());
    let mut planned = Vec::new();
    for (index, fault) in scenario.faults.iter().enumerate() {
        if fault.at >= duration {
            continue;
        }
        // Each fault draws its picks from its own stream, so adding a fault
        // does not change which instances the others pick.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0x5eed_0000 + index as u64));
        let mut resolve = |t: &Target| resolve(t, topology, &mut rng);
        let mut taken: Vec<String> = Vec::new();
        let (kind, detail, targets, effects) = match &fault.kind {
            FaultKind::Kill { target } => {
                let i = resolve(target);
                taken.clone_from(&i);
                let e = i.iter().cloned().map(Effect::Down).collect();
                (FaultClass::Kill, format!("kill {target}"), i, e)
            }
            FaultKind::Restart { target } => {
                let i = resolve(target);
                taken.clone_from(&i);
                let e = i.iter().cloned().map(Effect::Restart).collect();
                (FaultClass::Restart, format!("restart {target}"), i, e)
            }
            FaultKind::Pause { target } => {
                let i = resolve(target);
                taken.clone_from(&i);
                let e = i.iter().cloned().map(Effect::Pause).collect();
                (FaultClass::Pause, format!("pause {target}"), i, e)
            }
            FaultKind::Isolate { target } => {
                let i = resolve(target);
                taken.clone_from(&i);
                let mut e = Vec::new();
                for x in &i {
                    for h in hosts.iter().filter(|h| !i.contains(h)) {
                        e.push(Effect::Cut {
                            from: x.clone(),
                            to: h.clone(),
                        });
                        e.push(Effect::Cut {
                            from: h.clone(),
                            to: x.clone(),
                        });
                    }
                }
                (FaultClass::Isolate, format!("isolate {target}"), i, e)
            }
            FaultKind::Latency {
                scope,
                delay,
                jitter,
            } => {
                let (links, sides) = links(scope, &hosts, &mut resolve);
                taken = sides;
                let e = links
                    .iter()
                    .map(|(a, b)| Effect::Delay {
                        a: a.clone(),
                        b: b.clone(),
                        delay: *delay,
                        jitter: *jitter,
                    })
                    .collect();
                let detail = format!(
                    "latency +{} (jitter {}) on {}",
                    crate::report::fmt_duration(*delay),
                    crate::report::fmt_duration(*jitter),
                    scope_label(scope)
                );
                (FaultClass::Latency, detail, link_names(&links), e)
            }
            FaultKind::Loss { scope, rate } => {
                let (links, sides) = links(scope, &hosts, &mut resolve);
                taken = sides;
                let ppm = (rate * 1e6).round() as u32;
                let e = links
                    .iter()
                    .map(|(a, b)| Effect::Loss {
                        a: a.clone(),
                        b: b.clone(),
                        ppm,
                    })
                    .collect();
                let detail = format!("loss {rate} on {}", scope_label(scope));
                (FaultClass::Loss, detail, link_names(&links), e)
            }
            FaultKind::Partition { sides, one_way } => {
                let left: Vec<String> = sides.0.iter().flat_map(&mut resolve).collect();
                let right: Vec<String> = sides.1.iter().flat_map(&mut resolve).collect();
                taken = left.iter().chain(&right).cloned().collect();
                let mut e = Vec::new();
                let mut names = Vec::new();
                for l in &left {
                    for r in right.iter().filter(|r| *r != l) {
                        e.push(Effect::Cut {
                            from: l.clone(),
                            to: r.clone(),
                        });
                        if !one_way {
                            e.push(Effect::Cut {
                                from: r.clone(),
                                to: l.clone(),
                            });
                        }
                        names.push(format!("{l}{}{r}", if *one_way { "->" } else { "<->" }));
                    }
                }
                let side = |s: &[Target]| {
                    s.iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let arrow = if *one_way { "->" } else { "<->" };
                let detail = format!(
                    "partition [{}] {arrow} [{}]",
                    side(&sides.0),
                    side(&sides.1)
                );
                (FaultClass::Partition, detail, names, e)
            }
            FaultKind::Error {
                target,
                status,
                rate,
            } => {
                let i = resolve(target);
                taken.clone_from(&i);
                let ppm = (rate * 1e6).round() as u32;
                let e = i
                    .iter()
                    .map(|x| Effect::Error {
                        instance: x.clone(),
                        status: *status,
                        ppm,
                    })
                    .collect();
                (
                    FaultClass::Error,
                    format!("error {status} at rate {rate} on {target}"),
                    i,
                    e,
                )
            }
        };
        // A restart is over as soon as it is done; anything else heals at
        // `at + for`, or lasts to the end.
        let end = if kind == FaultClass::Restart {
            Some(fault.at)
        } else {
            fault.until.filter(|u| *u < duration)
        };
        planned.push(PlannedFault {
            index,
            kind,
            detail,
            targets,
            taken,
            start: fault.at,
            end,
            effects,
        });
    }
    planned
}

fn resolve(
    target: &Target,
    topology: &IndexMap<String, Vec<String>>,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let all = topology
        .get(target.service())
        .map(Vec::as_slice)
        .unwrap_or_default();
    match target {
        Target::Service(_) => all.to_vec(),
        Target::Instance { index, .. } => all
            .get((*index as usize).saturating_sub(1))
            .cloned()
            .into_iter()
            .collect(),
        Target::Pick { count, .. } => {
            let count = (*count as usize).min(all.len());
            let mut picked: Vec<usize> = sample(rng, all.len(), count).into_vec();
            picked.sort_unstable();
            picked.into_iter().map(|i| all[i].clone()).collect()
        }
    }
}

/// The unordered links a latency or loss scope covers, each once, `a < b`,
/// and the instances its targets resolved to.
fn links(
    scope: &LinkScope,
    hosts: &[String],
    resolve: &mut impl FnMut(&Target) -> Vec<String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let (left, right, taken) = match scope {
        LinkScope::Instance(t) => {
            let left = resolve(t);
            (left.clone(), hosts.to_vec(), left)
        }
        LinkScope::Between(a, b) => {
            let (left, right) = (resolve(a), resolve(b));
            let taken = left.iter().chain(&right).cloned().collect();
            (left, right, taken)
        }
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for l in &left {
        for r in right.iter().filter(|r| *r != l) {
            let pair = if l < r {
                (l.clone(), r.clone())
            } else {
                (r.clone(), l.clone())
            };
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    (out, taken)
}

fn link_names(links: &[(String, String)]) -> Vec<String> {
    links.iter().map(|(a, b)| format!("{a}<->{b}")).collect()
}

fn scope_label(scope: &LinkScope) -> String {
    match scope {
        LinkScope::Instance(t) => format!("{t}"),
        LinkScope::Between(a, b) => format!("{a}<->{b}"),
    }
}
