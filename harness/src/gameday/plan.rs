//! A game day's plan: what will be done to which container, checked against
//! every rail before anything is touched, with a hash over all of it.
//!
//! `squall gameday plan` makes it from what discovery finds ([`discover`])
//! and writes it as JSON for people to review; `squall gameday run --plan`
//! makes it again just before it starts and refuses unless the two hashes
//! are equal: what was reviewed is what runs. The hash covers the file's
//! bytes, the seed, every container by id and image id with its role, every
//! refusal, every fault's targets and times, and the limits; a container
//! relabelled, replaced or redeployed since changes it.
//!
//! The plan is also the run's topology: each service of the file gets one
//! instance per running container of it (those squall may touch first, by
//! name), and each fault's `mode` becomes a pick among the containers both
//! keys allow, drawn from the seed ([`crate::fault::plan_among`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::hex;
use super::discover::{self, Candidate};
use crate::docker::session::AttachSpec;
use crate::fault::{self, FaultClass, PlannedFault};
use crate::scenario::gameday::{GamedayConfig, Mode};
use crate::scenario::{FaultKind, LinkScope, Scenario, ScenarioError, Target};

/// The plan file's format version.
pub const VERSION: u32 = 1;

/// A plan, as `plan.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub scenario: String,
    /// SHA-256 of the scenario file's bytes.
    pub file_sha256: String,
    pub seed: u64,
    pub duration_ms: u64,
    /// The engine (`DOCKER_HOST`).
    pub engine: String,
    /// The network addresses are taken from.
    pub network: String,
    pub instances: Vec<PlannedInstance>,
    pub refused: Vec<Refused>,
    pub faults: Vec<PlanFault>,
    pub limits: PlanLimits,
    /// SHA-256 over everything above (this field empty).
    pub hash: String,
}

/// One running container of a service of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedInstance {
    /// Its name in the run (`ledger-1`), as reports and faults say it.
    pub instance: String,
    pub service: String,
    pub container: String,
    pub id: String,
    pub image: String,
    pub address: Ipv4Addr,
    pub port: u16,
    pub role: Role,
}

/// What squall may do to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A fault of the plan takes it.
    Target,
    /// Both keys allow it, but no fault picked it: left alone.
    Spare,
    /// Not allowed: an address other faults may cut off, never touched.
    Peer,
}

/// A candidate that is not a target, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub container: String,
    pub id: String,
    pub service: String,
    pub reason: String,
}

/// One fault, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFault {
    /// Its place among the file's `[[faults]]`, from 0.
    pub index: usize,
    pub line: usize,
    pub detail: String,
    pub start_ms: u64,
    pub end_ms: Option<u64>,
    /// The instances it takes.
    pub targets: Vec<String>,
    /// How it is applied and undone.
    pub mechanism: String,
}

/// `[gameday] limits`, and the most the plan uses of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub instances_at_once: u32,
    pub keep_healthy: u32,
    pub max_for_ms: u64,
    /// The most instances under faults at one moment.
    pub most_at_once: u32,
    /// Per service: healthy replicas now, and the fewest left untouched.
    pub floor: BTreeMap<String, (u32, u32)>,
    /// How long a network fault outlives squall, at most (the kernel lease).
    pub lease_ms: u64,
}

/// A plan and what the run needs from it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    /// The file as a topology of the containers found.
    pub scenario: Scenario,
    pub specs: Vec<AttachSpec>,
    /// The host's address on the network.
    pub gateway: Ipv4Addr,
    pub faults: Vec<PlannedFault>,
}

/// What the plan is made from.
pub struct Inputs<'a> {
    pub scenario: &'a Scenario,
    pub gameday: &'a GamedayConfig,
    /// The scenario file's bytes.
    pub text: &'a [u8],
    pub candidates: &'a [Candidate],
    pub seed: u64,
    pub duration: Duration,
    pub engine: String,
}

/// Makes the plan, or says every rail it breaks (each at its place in the file).
pub fn make(input: &Inputs<'_>) -> Result<Planned, Vec<ScenarioError>> {
    let Inputs {
        scenario,
        gameday,
        candidates,
        seed,
        duration,
        ..
    } = *input;
    let at = |line: usize, col: usize, message: String, hint: Option<&str>| ScenarioError {
        path: scenario.path.clone(),
        line,
        col,
        message,
        hint: hint.map(str::to_owned),
    };
    let section =
        |message: String, hint: Option<&str>| at(gameday.line, gameday.col, message, hint);
    let mut errors = Vec::new();
    let services: Vec<&str> = scenario.services.keys().map(String::as_str).collect();
    let network = discover::shared_network(candidates);
    if candidates.is_empty() || network.is_none() {
        return Err(vec![section(
            "no running container matches `[gameday]`".to_owned(),
            Some("check `project` (or `filter`) against `docker ps --format '{{.Names}} {{.Labels}}'`"),
        )]);
    }
    let network = network.unwrap_or_default();

    // Which containers may be taken; the rest are peers or not the file's.
    let mut refused = Vec::new();
    let mut allowed: BTreeSet<&str> = BTreeSet::new();
    for c in candidates {
        match discover::judge(c, gameday, &services, Some(&network)) {
            Ok(()) => {
                allowed.insert(&c.id);
            }
            Err(why) => refused.push(Refused {
                container: c.name.clone(),
                id: c.id.clone(),
                service: c.service.clone(),
                reason: why.to_string(),
            }),
        }
    }

    // The topology: per service, its running containers with an address,
    // the allowed ones first.
    let mut attached = scenario.clone();
    let mut members: IndexMap<String, Vec<&Candidate>> = IndexMap::new();
    let mut targetable: IndexMap<String, Vec<String>> = IndexMap::new();
    for name in scenario.services.keys() {
        let mut found: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| &c.service == name && c.state == "running" && !c.managed)
            .filter(|c| c.networks.contains_key(&network))
            .collect();
        found.sort_by_key(|c| (!allowed.contains(c.id.as_str()), c.name.clone()));
        let k = found
            .iter()
            .filter(|c| allowed.contains(c.id.as_str()))
            .count();
        let instances: Vec<String> = (1..=found.len()).map(|i| format!("{name}-{i}")).collect();
        targetable.insert(name.clone(), instances[..k].to_vec());
        attached.services[name].replicas = found.len() as u32;
        members.insert(name.clone(), found);
    }
    if members[&scenario.workload.target].is_empty() {
        errors.push(at(
            0,
            0,
            format!(
                "the workload's target `{}` has no running container here",
                scenario.workload.target
            ),
            Some("label its containers with the compose service name, or `squall.service`"),
        ));
    }

    // Each fault's mode as a pick among the allowed containers.
    for (index, f) in attached.faults.iter_mut().enumerate() {
        let mode = gameday.modes.get(index).copied().unwrap_or(Mode::One);
        let refuse = |message: String, hint: &str| at(f.line, f.col, message, Some(hint));
        let target = match &mut f.kind {
            FaultKind::Kill { target }
            | FaultKind::Restart { target }
            | FaultKind::Pause { target }
            | FaultKind::Isolate { target }
            | FaultKind::Error { target, .. }
            | FaultKind::Latency {
                scope: LinkScope::Instance(target),
                ..
            }
            | FaultKind::Loss {
                scope: LinkScope::Instance(target),
                ..
            } => target,
            FaultKind::Partition { .. } | FaultKind::Latency { .. } | FaultKind::Loss { .. } => {
                errors.push(refuse(
                    "a game day does not yet run partitions between sides or faults `between` two services".to_owned(),
                    "cut a service off with `kind = \"isolate\"`, or put the latency on one `target`",
                ));
                continue;
            }
        };
        let service = target.service().to_owned();
        let k = targetable.get(&service).map_or(0, Vec::len);
        if k == 0 {
            errors.push(refuse(
                format!("no container of `{service}` may be taken: none carries both keys"),
                "label its containers `squall.target=true` and name the service in `allow`; `squall gameday plan` lists each refusal",
            ));
            continue;
        }
        let count = match (&*target, mode) {
            (Target::Instance { .. }, _) => {
                errors.push(refuse(
                    format!("a game-day fault names a service and a `mode`, not one replica (`{target}`)"),
                    "which container is `-2` depends on what runs; use `mode = \"one\"` or `count:N`",
                ));
                continue;
            }
            (Target::Pick { count, .. }, _) => *count as usize,
            (Target::Service(_), Mode::All) => k,
            (Target::Service(_), m) => m.wanted(k),
        };
        if count > k {
            errors.push(refuse(
                format!(
                    "the fault asks for {count} container(s) of `{service}`; both keys allow {k}"
                ),
                "lower its `mode`, or opt more containers in",
            ));
            continue;
        }
        *target = Target::Pick {
            service,
            count: count as u32,
        };
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let faults = fault::plan_among(&attached, seed, duration, &targetable);

    // Limits, on the plan: instances at once and the healthy floor.
    let healthy: BTreeMap<&str, u32> = members
        .iter()
        .map(|(s, m)| (s.as_str(), m.iter().filter(|c| c.healthy).count() as u32))
        .collect();
    let instance_service: BTreeMap<String, String> = members
        .iter()
        .flat_map(|(s, m)| (1..=m.len()).map(move |i| (format!("{s}-{i}"), s.clone())))
        .collect();
    let healthy_instance: BTreeSet<String> = members
        .iter()
        .flat_map(|(s, m)| {
            m.iter()
                .enumerate()
                .filter(|(_, c)| c.healthy)
                .map(move |(i, _)| format!("{s}-{}", i + 1))
        })
        .collect();
    let mut most_at_once = 0;
    let mut floor: BTreeMap<String, (u32, u32)> = healthy
        .iter()
        .map(|(s, h)| ((*s).to_owned(), (*h, *h)))
        .collect();
    for f in &faults {
        let t = f.start;
        let in_force: BTreeSet<&String> = faults
            .iter()
            .filter(|g| g.start <= t && g.end.is_none_or(|e| t < e || (g.start == t && e == t)))
            .flat_map(|g| &g.taken)
            .collect();
        most_at_once = most_at_once.max(in_force.len() as u32);
        let line = scenario.faults[f.index].line;
        let col = scenario.faults[f.index].col;
        if in_force.len() as u32 > gameday.limits.instances_at_once {
            errors.push(at(
                line,
                col,
                format!(
                    "at {} this fault makes {} instances under faults at once; `limits.instances_at_once` is {}",
                    crate::report::fmt_duration(t),
                    in_force.len(),
                    gameday.limits.instances_at_once
                ),
                Some("move it so that it does not overlap, lower its `mode`, or raise the limit"),
            ));
        }
        for (service, (now, fewest)) in &mut floor {
            let left = healthy_instance
                .iter()
                .filter(|i| instance_service.get(*i) == Some(service))
                .filter(|i| !in_force.contains(i))
                .count() as u32;
            *fewest = (*fewest).min(left);
            let keep = gameday.limits.keep_healthy.min(*now);
            if left < keep
                && f.taken
                    .iter()
                    .any(|i| instance_service.get(i) == Some(service))
            {
                errors.push(at(
                    line,
                    col,
                    format!(
                        "this fault leaves {left} healthy replica(s) of `{service}` untouched; `limits.keep_healthy` is {} ({now} healthy now)",
                        gameday.limits.keep_healthy
                    ),
                    Some("take fewer of its containers (`mode`), or lower the floor"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // The plan, and what the run attaches to.
    let taken: BTreeSet<&String> = faults.iter().flat_map(|f| &f.taken).collect();
    let mut instances = Vec::new();
    let mut specs = Vec::new();
    let mut gateway = None;
    for (service, found) in &members {
        let port = scenario.services[service]
            .docker
            .port
            .unwrap_or(crate::topology::PORT);
        for (i, c) in found.iter().enumerate() {
            let instance = format!("{service}-{}", i + 1);
            let (address, gw) = c.networks[&network];
            gateway.get_or_insert(gw);
            let role = if taken.contains(&instance) {
                Role::Target
            } else if allowed.contains(c.id.as_str()) {
                Role::Spare
            } else {
                Role::Peer
            };
            specs.push(AttachSpec {
                instance: instance.clone(),
                service: service.clone(),
                container: c.id.clone(),
                address,
                port,
                ours: role == Role::Target,
            });
            instances.push(PlannedInstance {
                instance,
                service: service.clone(),
                container: c.name.clone(),
                id: c.id.clone(),
                image: c.image.clone(),
                address,
                port,
                role,
            });
        }
    }
    let plan_faults = faults
        .iter()
        .map(|f| PlanFault {
            index: f.index,
            line: scenario.faults[f.index].line,
            detail: f.detail.clone(),
            start_ms: f.start.as_millis() as u64,
            end_ms: f.end.map(|e| e.as_millis() as u64),
            targets: f.taken.clone(),
            mechanism: mechanism(f.kind).to_owned(),
        })
        .collect();
    let mut plan = Plan {
        version: VERSION,
        scenario: scenario.name.clone(),
        file_sha256: hex(&Sha256::digest(input.text)),
        seed,
        duration_ms: duration.as_millis() as u64,
        engine: input.engine.clone(),
        network,
        instances,
        refused,
        faults: plan_faults,
        limits: PlanLimits {
            instances_at_once: gameday.limits.instances_at_once,
            keep_healthy: gameday.limits.keep_healthy,
            max_for_ms: gameday.limits.max_for.as_millis() as u64,
            most_at_once,
            floor,
            lease_ms: crate::docker::nft::LEASE.as_millis() as u64,
        },
        hash: String::new(),
    };
    plan.hash = plan.digest();
    Ok(Planned {
        plan,
        scenario: attached,
        specs,
        gateway: gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
        faults,
    })
}

impl Plan {
    /// SHA-256 of the plan's JSON with `hash` empty.
    pub fn digest(&self) -> String {
        let bare = Plan {
            hash: String::new(),
            ..self.clone()
        };
        hex(&Sha256::digest(
            serde_json::to_vec(&bare).unwrap_or_default(),
        ))
    }

    /// What differs between a reviewed plan and this one, for people.
    pub fn differences(&self, reviewed: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        if self.file_sha256 != reviewed.file_sha256 {
            out.push("the scenario file changed".to_owned());
        }
        if self.seed != reviewed.seed || self.duration_ms != reviewed.duration_ms {
            out.push("the seed or the duration differs".to_owned());
        }
        if self.engine != reviewed.engine {
            out.push(format!(
                "the engine is {}, not {}",
                self.engine, reviewed.engine
            ));
        }
        let key =
            |i: &PlannedInstance| (i.container.clone(), i.id.clone(), i.image.clone(), i.role);
        let now: BTreeSet<_> = self.instances.iter().map(key).collect();
        let then: BTreeSet<_> = reviewed.instances.iter().map(key).collect();
        for (name, id, _, role) in then.difference(&now) {
            out.push(format!(
                "`{name}` ({}, {role:?}) is no longer as planned",
                short(id)
            ));
        }
        for (name, id, _, role) in now.difference(&then) {
            out.push(format!("`{name}` ({}) is now {role:?}", short(id)));
        }
        let refusals = |p: &Plan| -> BTreeSet<(String, String)> {
            p.refused
                .iter()
                .map(|r| (r.container.clone(), r.reason.clone()))
                .collect()
        };
        for (name, why) in refusals(self).difference(&refusals(reviewed)) {
            out.push(format!("`{name}` is now refused: {why}"));
        }
        if self.faults != reviewed.faults {
            out.push("the faults' targets or times differ".to_owned());
        }
        if out.is_empty() && self.hash != reviewed.hash {
            out.push("the limits or the plan's format differ".to_owned());
        }
        out
    }
}

/// The first 12 characters of a container id.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// How a fault is applied to an attached container, and undone.
pub fn mechanism(kind: FaultClass) -> &'static str {
    match kind {
        FaultClass::Kill => "stop: SIGKILL through the kill API (its restart policy does not act); started again at its end",
        FaultClass::Restart => "SIGKILL through the kill API, then started at once",
        FaultClass::Pause => "docker pause (the cgroup freezer); unpaused at its end",
        FaultClass::Isolate | FaultClass::Partition => {
            "nft drop rules in the target's network namespace, on a kernel lease: they lift by themselves within the lease if squall dies"
        }
        FaultClass::Loss => "nft random drop rules in the target's network namespace, on a kernel lease",
        FaultClass::Latency => {
            "an nft redirect (on a kernel lease) to squall's proxy in the target's namespace: what the target receives waits"
        }
        FaultClass::Error => "squall's HTTP proxy in the target's namespace answers that share of its requests",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const FILE: &str = r#"
name = "drill"
duration = "60s"
seed = 7
workload = { target = "gateway", path = "/pay", rate = 10, deadline = "200ms" }
[services.gateway]
[services.gateway.endpoints."/pay"]
calls = [{ to = "ledger", path = "/reserve", timeout = "150ms" }]
[services.ledger]
[services.ledger.endpoints."/reserve"]
work = "2ms"
[[faults]]
kind = "pause"
target = "ledger"
mode = "percent:50"
at = "10s"
for = "10s"
[[faults]]
kind = "latency"
target = "ledger"
mode = "one"
delay = "20ms"
at = "15s"
for = "10s"
[gameday]
project = "stg"
allow = ["ledger"]
limits = { instances_at_once = 2, keep_healthy = 1 }
"#;

    fn candidate(name: &str, service: &str, opted_in: bool, ip: u8) -> Candidate {
        Candidate {
            id: format!("{name}-id"),
            name: name.to_owned(),
            service: service.to_owned(),
            image: "sha256:1".to_owned(),
            state: "running".to_owned(),
            healthy: true,
            networks: BTreeMap::from([(
                "stg_default".to_owned(),
                (Ipv4Addr::new(172, 20, 0, ip), Ipv4Addr::new(172, 20, 0, 1)),
            )]),
            opted_in,
            protected: false,
            managed: false,
        }
    }

    fn staging() -> Vec<Candidate> {
        vec![
            candidate("stg-gateway-1", "gateway", false, 2),
            candidate("stg-ledger-1", "ledger", true, 3),
            candidate("stg-ledger-2", "ledger", true, 4),
            candidate("stg-ledger-3", "ledger", false, 5),
            candidate("stg-ledger-4", "ledger", true, 6),
        ]
    }

    fn make_from(text: &str, candidates: &[Candidate]) -> Result<Planned, Vec<ScenarioError>> {
        let scenario = crate::scenario::parse(text, std::path::Path::new("drill.toml")).unwrap();
        let gameday = scenario.gameday.clone().unwrap();
        make(&Inputs {
            scenario: &scenario,
            gameday: &gameday,
            text: text.as_bytes(),
            candidates,
            seed: 7,
            duration: scenario.duration,
            engine: "unix:///var/run/docker.sock".to_owned(),
        })
    }

    #[test]
    fn modes_pick_among_allowed_containers_and_the_plan_is_reproducible() {
        let planned = make_from(FILE, &staging()).unwrap();
        let again = make_from(FILE, &staging()).unwrap();
        assert_eq!(planned.plan, again.plan);
        assert_eq!(planned.plan.hash, planned.plan.digest());
        // 50% of 3 allowed is 2; `one` is 1; never the bystander.
        let allowed = ["ledger-1", "ledger-2", "ledger-3"];
        assert_eq!(planned.plan.faults[0].targets.len(), 2);
        assert_eq!(planned.plan.faults[1].targets.len(), 1);
        let by_instance = |i: &str| {
            planned
                .plan
                .instances
                .iter()
                .find(|p| p.instance == i)
                .unwrap()
                .clone()
        };
        for f in &planned.plan.faults {
            for t in &f.targets {
                assert!(allowed.contains(&t.as_str()), "{t}");
                assert_eq!(by_instance(t).role, Role::Target);
            }
        }
        // Allowed containers come first; the bystander is a peer.
        assert_eq!(by_instance("ledger-4").container, "stg-ledger-3");
        assert_eq!(by_instance("ledger-4").role, Role::Peer);
        assert_eq!(by_instance("gateway-1").role, Role::Peer);
        assert_eq!(planned.scenario.services["ledger"].replicas, 4);
        assert!(planned
            .specs
            .iter()
            .filter(|s| s.ours)
            .all(|s| s.service == "ledger"));

        // A container replaced since (new id) changes the hash, and says so.
        let mut replaced = staging();
        replaced[2].id = "new-id".to_owned();
        let other = make_from(FILE, &replaced).unwrap();
        assert_ne!(other.plan.hash, planned.plan.hash);
        let diff = other.plan.differences(&planned.plan);
        assert!(diff.iter().any(|d| d.contains("stg-ledger-2")), "{diff:?}");
    }

    #[test]
    fn the_rails_refuse_a_plan_at_the_fault() {
        let at_once = FILE.replace("instances_at_once = 2", "instances_at_once = 1");
        let errors = make_from(&at_once, &staging()).unwrap_err();
        assert!(
            errors[0].message.contains("instances_at_once"),
            "{errors:?}"
        );
        assert_eq!(errors[0].line, 13);

        let floor = FILE.replace("keep_healthy = 1", "keep_healthy = 3");
        let errors = make_from(&floor, &staging()).unwrap_err();
        assert!(
            errors.iter().any(|e| e.message.contains("keep_healthy")),
            "{errors:?}"
        );

        let one_replica = FILE.replace(
            "target = \"ledger\"\nmode = \"one\"",
            "target = \"ledger-1\"",
        );
        let errors = make_from(&one_replica, &staging()).unwrap_err();
        assert!(errors[0].message.contains("not one replica"), "{errors:?}");

        let none: Vec<Candidate> = staging()
            .into_iter()
            .map(|c| Candidate {
                opted_in: false,
                ..c
            })
            .collect();
        let errors = make_from(FILE, &none).unwrap_err();
        assert!(
            errors[0].message.contains("none carries both keys"),
            "{errors:?}"
        );
        assert!(make_from(FILE, &[]).is_err());
    }
}
