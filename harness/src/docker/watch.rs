//! Containers that vanish mid-run: removed by something other than squall
//! (`docker rm -f`, a prune, a cleanup script).
//!
//! squall removes its containers only at teardown, so a `destroy` event for
//! one of the run's containers before then means someone else did.
//! Without a watch, a vanished instance shows only as failed requests (an
//! invariant failure, exit 1, blaming the system under test), or as whatever
//! squall touched next failing: the pause API answering 404, `nsenter` finding
//! no process for an nft change. So the run listens to the engine's events
//! ([`vanished`]) and stops at once; and after the load phase, and after any
//! error, it asks the engine which containers are gone ([`missing`]), so the
//! error names the vanished instance whichever of those noticed first.
//!
//! The event stream is the one engine request without a deadline
//! ([`super::call`]): waiting for events is its purpose. It is raced against
//! the load phase, so a stream that goes quiet on a wedged engine holds
//! nothing up; the run's own calls time out and end it.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::{container, DockerError, LABEL_RUN};

/// How long the watch waits before it subscribes again to an event stream
/// that ended or failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Resolves when a container of `run` is destroyed, with the error naming
/// it. If the event stream ends or fails, the watch subscribes again, asking
/// for the events since it started, so none falls in the gap; while the
/// engine cannot be reached it keeps trying (the run's next engine call
/// fails on its own).
pub async fn vanished(docker: &Docker, run: &str) -> DockerError {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let filters = HashMap::from([
        ("type", vec!["container".to_owned()]),
        ("event", vec!["destroy".to_owned()]),
        ("label", vec![format!("{LABEL_RUN}={run}")]),
    ]);
    loop {
        let mut events = docker.events(Some(
            EventsOptionsBuilder::default()
                .since(&since)
                .filters(&filters)
                .build(),
        ));
        while let Some(Ok(event)) = events.next().await {
            let name = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|mut a| a.remove("name"));
            if let Some(name) = name {
                return DockerError::vanished(&name);
            }
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// The first of `containers` (names of `run`'s containers) that is no longer
/// on the engine, as [`DockerError::Vanished`]; `None` when all are there or
/// the engine cannot say.
pub async fn missing(docker: &Docker, run: &str, containers: &[String]) -> Option<DockerError> {
    let present: BTreeSet<String> = container::list(docker, Some(run))
        .await
        .ok()?
        .into_iter()
        .map(|c| c.name)
        .collect();
    containers
        .iter()
        .find(|c| !present.contains(*c))
        .map(|c| DockerError::vanished(c))
}
