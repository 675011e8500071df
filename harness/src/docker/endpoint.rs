//! Changes to the run network's endpoints: one at a time, each waited for.
//!
//! Starting a container joins it to its network; stopping it (a kill fault, a
//! teardown, a heal) makes it leave, and the engine then deletes its
//! endpoint. Docker 20.10 before 20.10.27 (Debian 12's `docker.io` is
//! 20.10.24) takes two libnetwork locks in opposite orders on those paths: a
//! container leaving holds the network's lock and waits for the controller's
//! (`getSvcRecords`), while the deletion of another endpoint of the same
//! network holds the controller's and waits for the network's
//! (`processEndpointDelete`). When the two meet, the engine's networking is
//! wedged until dockerd restarts (moby/moby#42545, backported to 20.10 in
//! moby/libnetwork#2679). A teardown that removes ten containers at once
//! makes them meet; so can several kills at one instant, because a kill call
//! returns as soon as the signal is sent and the engine processes the exit
//! (and the leave) afterwards, on its own.
//!
//! So squall never lets two of these changes overlap. [`start`], [`stop`] and
//! [`remove`] take one lock for the whole process, make their change, and hold
//! the lock until the engine has finished it: a stop until the engine reports
//! the container not running (it releases the network before it says so),
//! then [`SETTLE`] more for the endpoint deletion the engine does
//! asynchronously after that. docs/docker.md has the before and after: the
//! stress test wedged this engine with the concurrent teardown and never with
//! this one.

use std::time::Duration;

use bollard::Docker;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::{container, DockerError};

/// Time left after a change for the engine's deferred endpoint work (its
/// `watchLoop` deletes or records the endpoint after the call returned).
pub const SETTLE: Duration = Duration::from_millis(30);

/// How long a killed container may take to be reported stopped.
pub const STOP_WAIT: Duration = Duration::from_secs(10);

/// How often a stopping container is looked at.
const POLL: Duration = Duration::from_millis(10);

/// One endpoint change at a time in this process.
static CHANGES: Mutex<()> = Mutex::const_new(());

/// Takes the change lock. Bounded: a panic hook that heals while the
/// panicking task still holds the lock must not wait for it forever, so
/// after the engine's call timeout the change goes ahead without it.
async fn one_at_a_time() -> Option<MutexGuard<'static, ()>> {
    match tokio::time::timeout(super::call::timeout(), CHANGES.lock()).await {
        Ok(guard) => Some(guard),
        Err(_) => {
            tracing::warn!(
                "an endpoint change waited past the engine timeout for another; going ahead"
            );
            None
        }
    }
}

/// Starts container `name` (joining its network).
pub async fn start(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let _one = one_at_a_time().await;
    container::start(docker, name).await?;
    tokio::time::sleep(SETTLE).await;
    Ok(())
}

/// Kills container `name` (`SIGKILL`) and returns once the engine reports it
/// stopped, its endpoint gone.
pub async fn stop(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let _one = one_at_a_time().await;
    container::kill(docker, name).await?;
    stopped(docker, name).await?;
    tokio::time::sleep(SETTLE).await;
    Ok(())
}

/// Removes container `name`, whatever its state, ignoring "already gone": a
/// paused one is thawed and a running one stopped first (as [`stop`]), so
/// the removal itself changes no endpoint.
pub async fn remove(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let _one = one_at_a_time().await;
    let state = match container::inspect_state(docker, name).await {
        Ok(state) => state,
        Err(DockerError::Vanished { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    if state.running.unwrap_or(false) {
        if state.paused.unwrap_or(false) {
            container::unpause(docker, name).await?;
        }
        container::kill(docker, name).await?;
        stopped(docker, name).await?;
        tokio::time::sleep(SETTLE).await;
    }
    container::remove(docker, name).await
}

/// Waits until the engine reports `name` not running, within [`STOP_WAIT`].
async fn stopped(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let end = Instant::now() + STOP_WAIT;
    loop {
        match container::inspect_state(docker, name).await {
            Ok(state) if !state.running.unwrap_or(false) => return Ok(()),
            Ok(_) => {}
            Err(DockerError::Vanished { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        if Instant::now() >= end {
            return Err(DockerError::Engine(format!(
                "container `{name}` was killed but the engine still reports it running after {}s",
                STOP_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
