//! `squall heal`: undo what a squall that died left on the engine.
//!
//! The engine's labels are the ground truth (everything squall creates
//! carries `squall.managed=true` and `squall.run=<id>`); the journals say
//! which runs existed and whether their process is still alive. For each run
//! to heal: paused containers are unpaused, squall's nft table is deleted from
//! each running container's namespace, the containers and the network are
//! removed, and the journal goes. A game day's targets are not squall's:
//! what its journal says was done to them is undone (unpaused, started again
//! if squall stopped them, its table deleted) and they stay. A run whose squall is still alive is left
//! alone unless named with `--run` or `--all`.

use std::collections::BTreeSet;

use bollard::query_parameters::ListNetworksOptionsBuilder;
use bollard::Docker;

use super::call::call;
use super::{
    container, endpoint, engine, journal, network, nft, DockerError, LABEL_MANAGED, LABEL_RUN,
};

/// Which runs to heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// Runs whose squall process is gone (the default of `squall heal`).
    Orphaned,
    /// One run, by id.
    Run(String),
    /// Every object of squall's on the engine.
    All,
}

/// What a heal undid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Healed {
    pub runs: BTreeSet<String>,
    pub containers: Vec<String>,
    pub unpaused: Vec<String>,
    /// Game-day targets squall had stopped, started again.
    pub started: Vec<String>,
    pub tables: Vec<String>,
    pub networks: Vec<String>,
    pub journals: Vec<String>,
}

/// squall's networks on the engine: (name, run).
pub async fn networks(
    docker: &Docker,
    run: Option<&str>,
) -> Result<Vec<(String, String)>, DockerError> {
    let label = match run {
        Some(r) => format!("{LABEL_RUN}={r}"),
        None => format!("{LABEL_MANAGED}=true"),
    };
    let filters = std::collections::HashMap::from([("label".to_owned(), vec![label])]);
    let found = call(
        || "list networks".to_owned(),
        docker.list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        )),
    )
    .await?
    .map_err(engine("cannot list networks"))?;
    Ok(found
        .into_iter()
        .map(|n| {
            let run = n
                .labels
                .and_then(|l| l.get(LABEL_RUN).cloned())
                .unwrap_or_default();
            (n.name.unwrap_or_default(), run)
        })
        .collect())
}

/// Heals `which`.
pub async fn heal(docker: &Docker, which: &Which) -> Result<Healed, DockerError> {
    let journals = journal::list();
    let containers = container::list(docker, None).await?;
    let nets = networks(docker, None).await?;
    let mut runs: BTreeSet<String> = containers
        .iter()
        .map(|c| c.run.clone())
        .chain(nets.iter().map(|n| n.1.clone()))
        .chain(journals.iter().map(|j| j.run.clone()))
        .collect();
    let alive: BTreeSet<String> = journals
        .iter()
        .filter(|j| j.writer_alive() && !j.entries.contains(&journal::Entry::End))
        .map(|j| j.run.clone())
        .collect();
    match which {
        Which::Run(id) => runs.retain(|r| r == id),
        Which::All => {}
        Which::Orphaned => runs.retain(|r| !alive.contains(r)),
    }
    let mut healed = Healed::default();
    for run in &runs {
        let table = nft::table_name(run);
        for c in containers.iter().filter(|c| &c.run == run) {
            if c.state == "paused" {
                match container::unpause(docker, &c.name).await {
                    Ok(()) => healed.unpaused.push(c.name.clone()),
                    // Unpaused or removed since the listing (by the run
                    // itself, another heal): what the heal wanted.
                    Err(_) if !paused(docker, &c.name).await => {}
                    Err(e) => return Err(e),
                }
            }
            if let Ok((pid, _)) = container::state(docker, &c.name).await {
                if pid > 0 && nft::delete_table(pid, &table).await.is_ok() {
                    healed.tables.push(format!("{}:{table}", c.name));
                }
            }
            // One at a time, each stopped before it is removed (`endpoint`).
            endpoint::remove(docker, &c.name).await?;
            healed.containers.push(c.name.clone());
        }
        for (name, _) in nets.iter().filter(|n| &n.1 == run) {
            network::remove(docker, name).await?;
            healed.networks.push(name.clone());
        }
        let theirs: BTreeSet<&str> = containers
            .iter()
            .filter(|c| &c.run == run)
            .map(|c| c.name.as_str())
            .collect();
        for j in journals.iter().filter(|j| &j.run == run) {
            attached(docker, j, &theirs, &table, &mut healed).await?;
        }
        for j in journals.iter().filter(|j| &j.run == run) {
            if std::fs::remove_file(&j.path).is_ok() {
                healed.journals.push(j.path.display().to_string());
            }
        }
        healed.runs.insert(run.clone());
    }
    Ok(healed)
}

/// Undoes what a game day's journal says it did to containers that are not
/// squall's (`created`: those that are, already healed and removed): each is
/// unpaused, its table deleted, and started again if squall stopped it. None
/// is removed; one that is gone needs nothing.
async fn attached(
    docker: &Docker,
    journal: &journal::Found,
    created: &BTreeSet<&str>,
    table: &str,
    healed: &mut Healed,
) -> Result<(), DockerError> {
    let mut seen = BTreeSet::new();
    for entry in &journal.entries {
        let (journal::Entry::Kill { container }
        | journal::Entry::Pause { container }
        | journal::Entry::Table { container, .. }) = entry
        else {
            continue;
        };
        if created.contains(container.as_str()) || !seen.insert(container.clone()) {
            continue;
        }
        let killed = journal.entries.contains(&journal::Entry::Kill {
            container: container.clone(),
        });
        let state = match container::inspect_state(docker, container).await {
            Ok(state) => state,
            Err(DockerError::Vanished { .. }) => continue,
            Err(e) => return Err(e),
        };
        if state.paused.unwrap_or(false) {
            container::unpause(docker, container).await?;
            healed.unpaused.push(container.clone());
        }
        if !state.running.unwrap_or(false) && killed {
            endpoint::start(docker, container).await?;
            healed.started.push(container.clone());
        }
        if let Ok((pid, _)) = container::state(docker, container).await {
            if pid > 0 && nft::delete_table(pid, table).await.is_ok() {
                healed.tables.push(format!("{container}:{table}"));
            }
        }
    }
    Ok(())
}

/// Whether `name` is still paused; a container that is gone is not.
async fn paused(docker: &Docker, name: &str) -> bool {
    match container::state(docker, name).await {
        Ok((_, paused)) => paused,
        Err(DockerError::Vanished { .. }) => false,
        Err(_) => true,
    }
}

/// Heals one run from outside any runtime (a drop guard, a panic): builds a
/// runtime of its own on a fresh thread.
pub fn heal_run_blocking(run: &str) -> Result<Healed, String> {
    let run = run.to_owned();
    std::thread::Builder::new()
        .name(super::abort::HEAL_THREAD.to_owned())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (docker, _) = super::connect().await.map_err(|e| e.to_string())?;
                heal(&docker, &Which::Run(run))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .map_err(|e| format!("cannot start the heal thread: {e}"))?
        .join()
        .map_err(|_| "the heal thread panicked".to_owned())?
}
