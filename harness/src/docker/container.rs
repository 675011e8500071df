//! Containers: one per instance, created with a fixed address on the run's
//! network, and the lifecycle calls faults use (kill, start, pause).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::{FutureExt, StreamExt};

use super::call::call;
use super::network::{labels, Network};
use super::{engine, is_not_found, DockerError, LABEL_INSTANCE, LABEL_MANAGED, LABEL_RUN};

/// What a container runs.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Container name, `squall-<run>-<instance>`.
    pub name: String,
    pub instance: String,
    pub image: String,
    pub address: Ipv4Addr,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// The image's `CMD` and `ENTRYPOINT` replaced (a compose service's).
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub healthcheck: Option<HealthConfig>,
    /// DNS names on the run's network: the service's and the instance's
    /// (the engine's resolver answers a service name with every replica's
    /// address, as compose's network aliases do).
    pub aliases: Vec<String>,
}

/// Creates (does not start) the container of `spec` on `network`.
pub async fn create(
    docker: &Docker,
    run: &str,
    network: &Network,
    spec: &Spec,
) -> Result<String, DockerError> {
    let mut labels = labels(run);
    labels.insert(LABEL_INSTANCE.to_owned(), spec.instance.clone());
    let endpoint = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: Some(spec.address.to_string()),
            ..Default::default()
        }),
        aliases: Some(spec.aliases.clone()).filter(|a| !a.is_empty()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        healthcheck: spec.healthcheck.clone(),
        labels: Some(labels),
        // Docker's own stop must not wait: squall kills on purpose.
        stop_signal: Some("SIGKILL".to_owned()),
        host_config: Some(HostConfig {
            network_mode: Some(network.name.clone()),
            auto_remove: Some(false),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.name.clone(), endpoint)])),
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let created = call(
        || format!("create container `{}`", spec.name),
        docker.create_container(Some(options), body),
    )
    .await?
    .map_err(|e| {
        if is_not_found(&e) {
            DockerError::MissingImage(spec.image.clone())
        } else {
            engine(format!("cannot create container `{}`", spec.name))(e)
        }
    })?;
    Ok(created.id)
}

/// Maps a 404 to [`DockerError::Vanished`].
fn lifecycle<'a>(
    name: &'a str,
    what: &'static str,
) -> impl FnOnce(bollard::errors::Error) -> DockerError + 'a {
    move |e| {
        if is_not_found(&e) {
            DockerError::vanished(name)
        } else {
            engine(format!("cannot {what} `{name}`"))(e)
        }
    }
}

/// Starts a created or stopped container. Starting joins the run's network:
/// go through [`super::endpoint::start`], which makes such changes one at a time.
pub(crate) async fn start(docker: &Docker, name: &str) -> Result<(), DockerError> {
    call(
        || format!("start container `{name}`"),
        docker.start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        ),
    )
    .await?
    .map_err(lifecycle(name, "start"))
}

/// `SIGKILL`; returns once the signal is sent, before the engine has
/// processed the exit. Use [`super::endpoint::stop`], which waits for that.
pub async fn kill(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = KillContainerOptionsBuilder::default()
        .signal("SIGKILL")
        .build();
    call(
        || format!("kill container `{name}`"),
        docker.kill_container(name, Some(options)),
    )
    .await?
    .map_err(lifecycle(name, "kill"))
}

pub async fn pause(docker: &Docker, name: &str) -> Result<(), DockerError> {
    call(
        || format!("pause container `{name}`"),
        docker.pause_container(name),
    )
    .await?
    .map_err(lifecycle(name, "pause"))
}

pub async fn unpause(docker: &Docker, name: &str) -> Result<(), DockerError> {
    call(
        || format!("unpause container `{name}`"),
        docker.unpause_container(name),
    )
    .await?
    .map_err(lifecycle(name, "unpause"))
}

/// The container's state: (pid of its process, 0 when not running; paused).
pub async fn state(docker: &Docker, name: &str) -> Result<(i64, bool), DockerError> {
    let state = inspect_state(docker, name).await?;
    Ok((state.pid.unwrap_or(0), state.paused.unwrap_or(false)))
}

/// The engine's view of the container's state.
pub(crate) async fn inspect_state(
    docker: &Docker,
    name: &str,
) -> Result<bollard::models::ContainerState, DockerError> {
    let info = call(
        || format!("inspect container `{name}`"),
        docker.inspect_container(name, None::<InspectContainerOptions>),
    )
    .await?
    .map_err(lifecycle(name, "inspect"))?;
    Ok(info.state.unwrap_or_default())
}

/// How a container that is not running ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub exit_code: i64,
    pub oom_killed: bool,
}

/// `None` while the container runs (or is paused); how it ended otherwise.
pub async fn ended(docker: &Docker, name: &str) -> Result<Option<Ended>, DockerError> {
    let state = inspect_state(docker, name).await?;
    if state.running.unwrap_or(false) {
        return Ok(None);
    }
    Ok(Some(Ended {
        exit_code: state.exit_code.unwrap_or(-1),
        oom_killed: state.oom_killed.unwrap_or(false),
    }))
}

/// The last `lines` lines the container wrote (stdout and stderr), oldest
/// first; empty if the engine cannot say. Read before the container is
/// removed, they are the only trace of why it stopped.
pub async fn last_logs(docker: &Docker, name: &str, lines: usize) -> Vec<String> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build();
    let read = docker
        .logs(name, Some(options))
        .collect::<Vec<_>>()
        .map(Ok::<_, bollard::errors::Error>);
    let Ok(Ok(chunks)) = call(|| format!("read the logs of `{name}`"), read).await else {
        return Vec::new();
    };
    let text: String = chunks
        .into_iter()
        .filter_map(Result::ok)
        .map(|chunk| String::from_utf8_lossy(chunk.as_ref()).into_owned())
        .collect();
    text.lines().map(str::to_owned).collect()
}

/// Removes a container, ignoring "already gone". A running one leaves the
/// run's network as it goes: go through [`super::endpoint::remove`], which
/// stops it first, one at a time.
pub async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let answer = call(
        || format!("remove container `{name}`"),
        docker.remove_container(name, Some(options)),
    )
    .await?;
    match answer {
        Err(e) if !is_not_found(&e) => Err(engine(format!("cannot remove container `{name}`"))(e)),
        _ => Ok(()),
    }
}

/// A container of squall's found on the engine.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: String,
    pub run: String,
    /// `running`, `paused`, `exited`, ...
    pub state: String,
}

/// squall's containers (any state), of one run or of all.
pub async fn list(docker: &Docker, run: Option<&str>) -> Result<Vec<Found>, DockerError> {
    let label = match run {
        Some(r) => vec![format!("{LABEL_RUN}={r}")],
        None => vec![format!("{LABEL_MANAGED}=true")],
    };
    let filters = HashMap::from([("label".to_owned(), label)]);
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
    Ok(found
        .into_iter()
        .map(|c| Found {
            name: c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            run: c
                .labels
                .and_then(|l| l.get(LABEL_RUN).cloned())
                .unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        })
        .collect())
}
