//! The Docker backend: the scenario's topology as real containers, real time,
//! real faults.
//!
//! Reach for it with `squall run SCENARIO --backend docker`. squall creates a
//! bridge network with a subnet of its own (`10.213.x.0/24`) and one container
//! per instance with a fixed address on it, all labelled `squall.managed=true`
//! and `squall.run=<run id>`; the workload runs from the host and reaches the
//! entry service by IP. Faults are applied at their scheduled wall-clock time:
//!
//! | fault | mechanism |
//! |---|---|
//! | kill | `SIGKILL` via the kill API; healed by starting the container again |
//! | restart | kill then start (in-flight work is lost) |
//! | pause | the cgroup freezer (`pause`/`unpause`) |
//! | partition, isolate | nft drop rules in the targets' network namespaces ([`nft`]); one-way cuts match `ct direction original` |
//! | loss | nft `numgen random` drop rules on both ends of each link |
//! | latency | a transparent TCP proxy inside the target's namespace ([`proxy`]), fed by an nft `redirect` |
//! | error | the fixture's admin endpoint (`POST /squall/error`); any other image: the proxy answers that fraction of its HTTP/1.1 requests ([`proxy::http`]) |
//!
//! Every nft rule is gated on a lease in the kernel that squall renews
//! every second ([`lease`]): if squall dies, partitions, loss and the latency
//! redirects lift by themselves within five seconds.
//! Every change is first written to a journal ([`journal`]); a normal end,
//! Ctrl-C, SIGTERM, a panic ([`abort`]), a container removed from outside
//! ([`watch`]) and a later `squall heal` ([`heal`]) all undo it.
//! `squall doctor` ([`doctor`]) says which mechanisms work on an engine.
//! The fixture image is built offline ([`image`]). A compose file's services
//! (`[docker] compose`, [`crate::scenario::compose`]) run on the same network,
//! reachable by service and instance name. docs/docker.md has the rest.

pub mod abort;
pub mod call;
pub mod container;
pub mod doctor;
pub mod endpoint;
pub mod heal;
pub mod image;
pub mod journal;
pub mod lease;
pub mod network;
pub mod nft;
pub mod proxy;
pub mod run;
pub mod session;
pub mod watch;

pub use run::{image_of, own_image, run};

use std::time::Duration;

use bollard::Docker;

/// Label carried by everything squall creates on an engine.
pub const LABEL_MANAGED: &str = "squall.managed";
/// Label naming the run an object belongs to.
pub const LABEL_RUN: &str = "squall.run";
/// Label naming the instance a container runs.
pub const LABEL_INSTANCE: &str = "squall.instance";

/// How long squall waits for the engine to answer `/version`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What to do about a missing image: the fixture is built from squall's
/// sources, anything else is the user's to build or load.
fn missing_image_hint(image: &str) -> String {
    if image == image::FIXTURE_IMAGE {
        "squall builds it itself when run from its source checkout; elsewhere run \
         `cargo run --release -p squall --example fixture_image` in a clone of squall"
            .to_owned()
    } else {
        format!("build it (`docker build -t {image} .`) or load it (`docker load`) first; no registry is used")
    }
}

/// Why the Docker backend could not do its work.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DockerError {
    /// No engine answered (exit 3).
    #[error("cannot reach the Docker engine at {host}: {reason} (hint: start the engine, or set `DOCKER_HOST`)")]
    Unreachable { host: String, reason: String },
    /// An image the run needs is not on the engine (exit 3).
    #[error("image `{0}` is not on the Docker engine (hint: {hint})", hint = missing_image_hint(.0))]
    MissingImage(String),
    /// A container squall created is gone: something else removed it (exit 3).
    #[error("instance `{instance}` vanished mid-run: its container `{container}` was removed by something other than squall (`docker rm`, a prune)")]
    Vanished { instance: String, container: String },
    /// A container squall had not stopped is not running: stopped from
    /// outside (`docker stop`, `docker kill`) or its process ended (exit 3).
    #[error("instance `{instance}` stopped mid-run without squall stopping it (exit code {exit_code}{oom}): `docker stop` or `docker kill` from outside, or its process ended on its own{logs}", oom = if *oom_killed { ", killed for lack of memory" } else { "" }, logs = if last_logs.is_empty() { String::new() } else { format!("; its last log lines:\n  {}", last_logs.join("\n  ")) })]
    Stopped {
        instance: String,
        exit_code: i64,
        oom_killed: bool,
        last_logs: Vec<String>,
    },
    /// An engine call got no answer within its deadline ([`call`]): the
    /// engine is wedged or overloaded (exit 3).
    #[error("the Docker engine stopped answering: `{call}` got no answer in {} (hint: its networking may be wedged: Docker 20.10 before 20.10.27 has a known deadlock, see `squall doctor`; restart the engine, then run `squall heal`)", crate::scenario::format_duration(*after))]
    NotAnswering { call: String, after: Duration },
    /// The engine refused or failed a request (exit 3).
    #[error("{0}")]
    Engine(String),
    /// The scenario asks for something this backend cannot do (exit 2).
    #[error("{0}")]
    Unsupported(String),
}

impl DockerError {
    /// [`DockerError::Vanished`] for the container named `container`
    /// (`squall-<run>-<instance>`; run ids have no `-`).
    pub fn vanished(container: &str) -> DockerError {
        let instance = container
            .strip_prefix("squall-")
            .and_then(|rest| rest.split_once('-'))
            .map_or(container, |(_, instance)| instance);
        DockerError::Vanished {
            instance: instance.to_owned(),
            container: container.to_owned(),
        }
    }
}

impl From<DockerError> for crate::engine::RunError {
    fn from(e: DockerError) -> Self {
        match e {
            DockerError::Unsupported(m) => crate::engine::RunError::Unsupported(m),
            other => crate::engine::RunError::Backend(other.to_string()),
        }
    }
}

/// Wraps an engine error with what squall was doing.
pub(crate) fn engine(
    what: impl std::fmt::Display,
) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    move |e| DockerError::Engine(format!("{what}: {}", short(&e)))
}

/// An engine error in one line (bollard's server errors carry the message).
pub(crate) fn short(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} ({status_code})"),
        other => other.to_string(),
    }
}

/// Whether an engine error is "no such object" (404).
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Where the engine is, as people know it: `$DOCKER_HOST` or the local socket.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Connects to the engine (`DOCKER_HOST` honoured) and checks that it answers.
///
/// bollard 0.21 speaks API 1.53 by default; `negotiate_version` lowers it to
/// the engine's (Docker 20.10 speaks 1.41).
pub async fn connect() -> Result<(Docker, bollard::models::SystemVersion), DockerError> {
    let host = engine_host();
    let unreachable = |reason: String| DockerError::Unreachable {
        host: host.clone(),
        reason,
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(short(&e)))?;
    let version = tokio::time::timeout(CONNECT_TIMEOUT, docker.version())
        .await
        .map_err(|_| unreachable(format!("no answer in {}s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(short(&e)))?;
    let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| unreachable(format!("no answer in {}s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(short(&e)))?;
    // bollard's own deadline (whole seconds, on the response headers only) is
    // a backstop; `call::call` puts a deadline on every call squall makes.
    let docker = docker.with_timeout(call::timeout() + Duration::from_secs(5));
    Ok((docker, version))
}
