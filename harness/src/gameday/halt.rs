//! The halt lever: one switch on the engine that stops every game day.
//!
//! `squall gameday halt` creates a Docker volume named [`HALT_VOLUME`],
//! labelled with who pulled the lever, when and why. It lives on the engine,
//! so anyone who can reach the engine sees it and every run against that
//! engine checks it: a running game day finds it within [`POLL`], heals
//! everything and exits 4; `plan` and `run` refuse to start while it is
//! there. `unhalt` removes it. A volume needs no image and holds no process,
//! so the lever costs nothing while it is up and cannot crash.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::VolumeCreateRequest;
use bollard::Docker;

use crate::docker::call::call;
use crate::docker::{engine, is_not_found, DockerError, LABEL_MANAGED};

/// The lever's name on the engine.
pub const HALT_VOLUME: &str = "squall-gameday-halt";

/// How often a running game day looks at the lever.
pub const POLL: Duration = Duration::from_millis(250);

const LABEL_REASON: &str = "squall.halt.reason";
const LABEL_BY: &str = "squall.halt.by";
const LABEL_AT: &str = "squall.halt.at";

/// A lever that is pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halted {
    pub reason: String,
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
}

impl std::fmt::Display for Halted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "halted by {} at {}: {}", self.by, self.at, self.reason)
    }
}

/// Pulls the lever. `Ok(None)` if it was down; `Ok(Some(earlier))` if it was
/// already pulled (the first reason stands).
pub async fn halt(docker: &Docker, reason: &str, by: &str) -> Result<Option<Halted>, DockerError> {
    if let Some(earlier) = halted(docker).await? {
        return Ok(Some(earlier));
    }
    let labels = HashMap::from([
        (LABEL_MANAGED.to_owned(), "true".to_owned()),
        (LABEL_REASON.to_owned(), reason.to_owned()),
        (LABEL_BY.to_owned(), by.to_owned()),
        (
            LABEL_AT.to_owned(),
            super::audit::rfc3339_millis(std::time::SystemTime::now()),
        ),
    ]);
    let request = VolumeCreateRequest {
        name: Some(HALT_VOLUME.to_owned()),
        labels: Some(labels),
        ..Default::default()
    };
    call(
        || "create the halt volume".to_owned(),
        docker.create_volume(request),
    )
    .await?
    .map_err(engine("cannot create the halt volume"))?;
    Ok(None)
}

/// Lifts the lever; `false` if it was not pulled.
pub async fn unhalt(docker: &Docker) -> Result<bool, DockerError> {
    let answer = call(
        || "remove the halt volume".to_owned(),
        docker.remove_volume(
            HALT_VOLUME,
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        ),
    )
    .await?;
    match answer {
        Ok(()) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(engine("cannot remove the halt volume")(e)),
    }
}

/// The lever, if it is pulled.
pub async fn halted(docker: &Docker) -> Result<Option<Halted>, DockerError> {
    let answer = call(
        || "inspect the halt volume".to_owned(),
        docker.inspect_volume(HALT_VOLUME),
    )
    .await?;
    match answer {
        Ok(volume) => {
            let label = |k: &str| volume.labels.get(k).cloned().unwrap_or_default();
            Ok(Some(Halted {
                reason: label(LABEL_REASON),
                by: label(LABEL_BY),
                at: label(LABEL_AT),
            }))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(engine("cannot inspect the halt volume")(e)),
    }
}

/// Resolves once the lever is pulled (checked every [`POLL`]); an engine
/// error ends the wait too, as a reason to stop.
pub async fn pulled(docker: &Docker) -> String {
    loop {
        match halted(docker).await {
            Ok(Some(h)) => return h.to_string(),
            Ok(None) => {}
            Err(e) => return format!("cannot read the halt lever: {e}"),
        }
        tokio::time::sleep(POLL).await;
    }
}
