//! Finding a game day's containers, and deciding which ones squall may touch.
//!
//! Candidates are the containers of the file's compose project
//! (`com.docker.compose.project`) or carrying its `filter` label. Each maps
//! to a service by `squall.service`, else `com.docker.compose.service`. A
//! candidate becomes a target only with **two keys**: its own label
//! `squall.target=true` (the system owner's consent) and its service in the
//! file's `allow` list (the operator's intent); `squall.protect=true` always
//! wins, and squall's own containers (`squall.managed`) are never targets.
//! Every other candidate is either a peer (an address other faults may cut
//! off, never touched) or not part of the file at all; the plan lists each
//! refusal with its reason.
//!
//! Discovery only lists containers: it makes no call that changes anything.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use serde::{Deserialize, Serialize};

use crate::docker::call::call;
use crate::docker::{engine, DockerError, LABEL_MANAGED};
use crate::scenario::gameday::{Finder, GamedayConfig};

/// Key 1 of 2: the container's own consent, `squall.target=true`.
pub const LABEL_TARGET: &str = "squall.target";
/// `squall.protect=true`: never a target, whatever else says so.
pub const LABEL_PROTECT: &str = "squall.protect";
/// Names the container's service when the compose service name is not it.
pub const LABEL_SERVICE: &str = "squall.service";
/// Docker Compose's project label.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// Docker Compose's service label.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// A container discovery found, with what the rails need to know of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub name: String,
    /// Its service (empty: it names none).
    pub service: String,
    /// The image id it runs (`sha256:...`).
    pub image: String,
    /// `running`, `paused`, `exited`, ...
    pub state: String,
    /// Running, not paused, and not failing a healthcheck.
    pub healthy: bool,
    /// Its networks: name, its address there, and the host's (the gateway).
    pub networks: BTreeMap<String, (Ipv4Addr, Ipv4Addr)>,
    /// `squall.target=true`.
    pub opted_in: bool,
    /// `squall.protect=true`.
    pub protected: bool,
    /// Created by squall.
    pub managed: bool,
}

/// Why a candidate is not a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Created by squall (`squall.managed`).
    Managed,
    /// `squall.protect=true`.
    Protected,
    /// Its service is not one of the file's.
    NotInFile,
    /// Its service is not in `allow`.
    NotAllowed,
    /// It lacks `squall.target=true`.
    NotOptedIn,
    /// Not running (its state).
    NotRunning(String),
    /// It has no IPv4 address on the network the others share.
    NoAddress,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Managed => f.write_str("created by squall"),
            Refusal::Protected => write!(f, "protected (`{LABEL_PROTECT}=true`)"),
            Refusal::NotInFile => f.write_str("its service is not one of the file's"),
            Refusal::NotAllowed => f.write_str("its service is not in `allow`"),
            Refusal::NotOptedIn => write!(f, "no `{LABEL_TARGET}=true` label"),
            Refusal::NotRunning(state) => write!(f, "not running ({state})"),
            Refusal::NoAddress => f.write_str("no address on the network the others share"),
        }
    }
}

/// Lists the candidates of `gameday` (any state), by name.
pub async fn candidates(
    docker: &Docker,
    gameday: &GamedayConfig,
) -> Result<Vec<Candidate>, DockerError> {
    let label = match &gameday.find {
        Finder::Project(p) => format!("{COMPOSE_PROJECT}={p}"),
        Finder::Label { key, value } => format!("{key}={value}"),
    };
    let filters = HashMap::from([("label".to_owned(), vec![label])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let found = call(
        || "list containers".to_owned(),
        docker.list_containers(Some(options)),
    )
    .await?
    .map_err(engine("cannot list containers"))?;
    let mut out: Vec<Candidate> = found
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            let yes = |k: &str| labels.get(k).is_some_and(|v| v == "true");
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            let status = c.status.unwrap_or_default();
            let networks = c
                .network_settings
                .and_then(|n| n.networks)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(name, e)| {
                    let ip = e.ip_address?.parse().ok()?;
                    let gateway = e.gateway?.parse().ok()?;
                    Some((name, (ip, gateway)))
                })
                .collect();
            Candidate {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned(),
                service: labels
                    .get(LABEL_SERVICE)
                    .or_else(|| labels.get(COMPOSE_SERVICE))
                    .cloned()
                    .unwrap_or_default(),
                image: c.image_id.unwrap_or_default(),
                healthy: state == "running"
                    && !status.contains("(unhealthy)")
                    && !status.contains("(health: starting)"),
                state,
                networks,
                opted_in: yes(LABEL_TARGET),
                protected: yes(LABEL_PROTECT),
                managed: labels.contains_key(LABEL_MANAGED),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The network most candidates share (by name on ties): where their
/// addresses are taken from, and where the workload's traffic comes from.
pub fn shared_network(candidates: &[Candidate]) -> Option<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for c in candidates.iter().filter(|c| !c.managed) {
        for name in c.networks.keys() {
            *count.entry(name).or_default() += 1;
        }
    }
    let most = count.values().copied().max()?;
    count
        .into_iter()
        .find(|(_, n)| *n == most)
        .map(|(name, _)| name.to_owned())
}

/// Whether `c` may be a target, in the order the rails are checked (the
/// first that refuses is the reason given); `services` are the file's.
pub fn judge(
    c: &Candidate,
    gameday: &GamedayConfig,
    services: &[&str],
    network: Option<&str>,
) -> Result<(), Refusal> {
    if c.managed {
        return Err(Refusal::Managed);
    }
    if c.protected {
        return Err(Refusal::Protected);
    }
    if !services.contains(&c.service.as_str()) {
        return Err(Refusal::NotInFile);
    }
    if !gameday.allow.contains(&c.service) {
        return Err(Refusal::NotAllowed);
    }
    if !c.opted_in {
        return Err(Refusal::NotOptedIn);
    }
    if c.state != "running" {
        return Err(Refusal::NotRunning(c.state.clone()));
    }
    if network.is_none_or(|n| !c.networks.contains_key(n)) {
        return Err(Refusal::NoAddress);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::gameday::GamedayLimits;

    fn candidate(name: &str, service: &str) -> Candidate {
        Candidate {
            id: format!("id-{name}"),
            name: name.to_owned(),
            service: service.to_owned(),
            image: "sha256:1".to_owned(),
            state: "running".to_owned(),
            healthy: true,
            networks: BTreeMap::from([(
                "stg_default".to_owned(),
                (Ipv4Addr::new(172, 20, 0, 2), Ipv4Addr::new(172, 20, 0, 1)),
            )]),
            opted_in: true,
            protected: false,
            managed: false,
        }
    }

    #[test]
    fn a_target_needs_both_keys_and_protection_always_wins() {
        let gameday = GamedayConfig {
            find: Finder::Project("stg".into()),
            allow: vec!["ledger".into()],
            limits: GamedayLimits {
                instances_at_once: 1,
                keep_healthy: 1,
                max_for: std::time::Duration::from_secs(60),
            },
            modes: Vec::new(),
            line: 1,
            col: 1,
        };
        let services = ["gateway", "ledger"];
        let net = Some("stg_default");
        let ok = candidate("stg-ledger-1", "ledger");
        assert_eq!(judge(&ok, &gameday, &services, net), Ok(()));
        let cases = [
            (
                Candidate {
                    opted_in: false,
                    ..ok.clone()
                },
                Refusal::NotOptedIn,
            ),
            (candidate("stg-gateway-1", "gateway"), Refusal::NotAllowed),
            (candidate("stg-cache-1", "cache"), Refusal::NotInFile),
            (
                Candidate {
                    protected: true,
                    ..ok.clone()
                },
                Refusal::Protected,
            ),
            (
                Candidate {
                    managed: true,
                    ..ok.clone()
                },
                Refusal::Managed,
            ),
            (
                Candidate {
                    state: "exited".into(),
                    ..ok.clone()
                },
                Refusal::NotRunning("exited".into()),
            ),
        ];
        for (c, why) in cases {
            assert_eq!(judge(&c, &gameday, &services, net), Err(why), "{}", c.name);
        }
        assert_eq!(
            judge(&ok, &gameday, &services, Some("other")),
            Err(Refusal::NoAddress)
        );
        assert_eq!(
            shared_network(&[ok.clone(), candidate("b", "ledger")]).as_deref(),
            Some("stg_default")
        );
    }
}
