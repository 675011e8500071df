//! The run's network: a labelled bridge with a subnet of its own, so every
//! instance gets a fixed address that survives its restarts.
//!
//! Subnets are `10.213.x.0/24`; `x` is drawn from the run id and moved on past
//! subnets other networks already use (a named cap on attempts). The gateway
//! (`.1`) is the host's address on the bridge: the workload's traffic comes
//! from it. Instances get `.10`, `.11`, ... in file order.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use bollard::Docker;

use super::call::call;
use super::{engine, DockerError, LABEL_MANAGED, LABEL_RUN};

/// Most instances one network holds (`.10` to `.250`).
pub const MAX_INSTANCES: usize = 240;

/// Subnets tried before giving up.
const SUBNET_ATTEMPTS: usize = 16;

/// A network squall created.
#[derive(Debug, Clone)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// The `x` of `10.213.x.0/24`.
    pub octet: u8,
}

impl Network {
    /// The host's address on the bridge, where workload traffic comes from.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.octet, 1)
    }

    /// The address of the `index`-th instance (from 0).
    pub fn address(&self, index: usize) -> Ipv4Addr {
        debug_assert!(index < MAX_INSTANCES);
        Ipv4Addr::new(10, 213, self.octet, 10 + index as u8)
    }

    /// `10.213.x.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.213.{}.0/24", self.octet)
    }
}

/// The labels every object of run `run` carries.
pub fn labels(run: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_RUN.to_owned(), run.to_owned()),
    ])
}

/// Subnets in use by any network on the engine.
async fn used_subnets(docker: &Docker) -> Result<Vec<String>, DockerError> {
    let nets = call(
        || "list networks".to_owned(),
        docker.list_networks(Some(ListNetworksOptionsBuilder::default().build())),
    )
    .await?
    .map_err(engine("cannot list networks"))?;
    Ok(nets
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| c.subnet.clone())
        .collect())
}

/// Creates the bridge network `name` for run `run`; `before` is called with
/// the chosen name before the engine is asked (the journal's hook).
pub async fn create(
    docker: &Docker,
    run: &str,
    name: &str,
    mut before: impl FnMut(&str) -> Result<(), DockerError>,
) -> Result<Network, DockerError> {
    let used = used_subnets(docker).await?;
    let seed = run
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    let mut last = String::new();
    for attempt in 0..SUBNET_ATTEMPTS * 4 {
        let octet = ((seed as usize + attempt * 37) % 250 + 1) as u8;
        let subnet = format!("10.213.{octet}.0/24");
        if used.contains(&subnet) {
            continue;
        }
        before(name)?;
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels(run)),
            ipam: Some(Ipam {
                driver: Some("default".to_owned()),
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.clone()),
                    gateway: Some(format!("10.213.{octet}.1")),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match call(
            || format!("create network `{name}`"),
            docker.create_network(request),
        )
        .await?
        {
            Ok(r) => {
                return Ok(Network {
                    id: r.id,
                    name: name.to_owned(),
                    octet,
                })
            }
            // Another network took the subnet meanwhile: try the next one.
            Err(e) => last = super::short(&e),
        }
        if attempt >= SUBNET_ATTEMPTS {
            break;
        }
    }
    Err(DockerError::Engine(format!(
        "cannot create network `{name}`: no free subnet in 10.213.0.0/16 ({last})"
    )))
}

/// Removes a network, ignoring "already gone".
pub async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    match call(
        || format!("remove network `{name}`"),
        docker.remove_network(name),
    )
    .await?
    {
        Err(e) if !super::is_not_found(&e) => {
            Err(engine(format!("cannot remove network `{name}`"))(e))
        }
        _ => Ok(()),
    }
}
