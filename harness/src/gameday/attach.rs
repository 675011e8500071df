//! A game day on the run core: the [`Backend`] that attaches to containers
//! that already run instead of creating them.
//!
//! `up` builds a [`Session`] on the plan's containers (pinned by id) and
//! starts the workload at the target service's addresses. Every change the
//! core asks for goes through the rails first ([`Attached::reconcile`]): each
//! container about to be touched is inspected again (same id, still opted in,
//! not protected, running) and skipped if not; the cap on instances at once
//! and the floor of healthy replicas per service are counted live, against
//! what the engine says now. A skipped injection is audited, never moved to
//! another container. The halt lever, Ctrl-C and SIGTERM end the run: every
//! fault is healed and the run exits 4. `down` removes nothing but squall's
//! tables: the containers are someone else's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::audit::{Audit, Event};
use super::discover::{LABEL_PROTECT, LABEL_TARGET};
use super::halt;
use super::plan::Planned;
use crate::docker::abort::Armed;
use crate::docker::call::call;
use crate::docker::journal::Journal;
use crate::docker::session::Session;
use crate::engine::backend::{Received, Setup, Spans};
use crate::engine::{load, Backend, Desired, RunError};
use crate::fault::{Effect, WORKLOAD_HOST};
use crate::scenario::gameday::GamedayLimits;

/// Time between attaching and the first scheduled request.
const LEAD: Duration = Duration::from_millis(200);

/// The audit log, shared with the CLI that opened it.
pub type SharedAudit = Arc<Mutex<Audit>>;

/// What a game day needs beyond the scenario.
pub struct Extra {
    pub docker: Docker,
    pub planned: Planned,
    pub limits: GamedayLimits,
    pub audit: SharedAudit,
    /// Heals the run from its journal if it ends without healing.
    pub armed: Arc<Armed>,
    pub run: String,
}

/// A game day in progress.
pub struct Attached {
    session: Session,
    docker: Docker,
    run: String,
    limits: GamedayLimits,
    audit: SharedAudit,
    armed: Arc<Armed>,
    start: Instant,
    driver: JoinHandle<std::io::Result<()>>,
    drain: Duration,
    stop: Arc<AtomicBool>,
    interrupted: oneshot::Receiver<RunError>,
    watcher: JoinHandle<()>,
    /// Instance -> (service, container id).
    containers: BTreeMap<String, (String, String)>,
    /// Targets refused at their moment: left out of every later change.
    refused: BTreeSet<String>,
    /// What was last applied, after the rails.
    applied: Desired,
}

impl Attached {
    fn audit(&self, event: Event, target: &str, detail: &str) -> Result<(), RunError> {
        let mut audit = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        audit
            .write(event, target, detail)
            .map_err(|e| RunError::Backend(e.to_string()))
    }

    /// The container of `instance`, for the audit log.
    fn container(&self, instance: &str) -> String {
        self.containers
            .get(instance)
            .map(|(_, id)| format!("{instance} ({})", super::plan::short(id)))
            .unwrap_or_else(|| instance.to_owned())
    }

    /// Why `instance` may not be touched now, if it may not: its container
    /// is gone or replaced, lost its opt-in, gained protection, or stopped.
    async fn recheck(&self, instance: &str) -> Option<String> {
        let (_, id) = self.containers.get(instance)?;
        let answer = call(
            || format!("inspect container `{id}`"),
            self.docker.inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            ),
        )
        .await;
        let info = match answer {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => {
                return Some(format!(
                    "its container is gone ({})",
                    crate::docker::short(&e)
                ))
            }
            Err(e) => return Some(e.to_string()),
        };
        let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
        let yes = |k: &str| labels.get(k).is_some_and(|v| v == "true");
        if !yes(LABEL_TARGET) {
            return Some(format!(
                "its container no longer carries `{LABEL_TARGET}=true`"
            ));
        }
        if yes(LABEL_PROTECT) {
            return Some(format!(
                "its container is now protected (`{LABEL_PROTECT}=true`)"
            ));
        }
        let state = info.state.unwrap_or_default();
        if !state.running.unwrap_or(false) {
            return Some("its container is not running".to_owned());
        }
        None
    }

    /// Whether `instance`'s container is running, not paused, and not failing
    /// a healthcheck, as the engine says now.
    async fn healthy(&self, instance: &str) -> bool {
        let Some((_, id)) = self.containers.get(instance) else {
            return false;
        };
        match crate::docker::container::inspect_state(&self.docker, id).await {
            Ok(state) => {
                let unhealthy = state.health.and_then(|h| h.status).is_some_and(|s| {
                    matches!(
                        s,
                        bollard::models::HealthStatusEnum::UNHEALTHY
                            | bollard::models::HealthStatusEnum::STARTING
                    )
                });
                state.running.unwrap_or(false) && !state.paused.unwrap_or(false) && !unhealthy
            }
            Err(_) => false,
        }
    }

    /// The rails, for a change to `want` plus `restarts`: returns the
    /// instances to leave out, each audited with its reason.
    async fn rails(&mut self, want: &Desired, restarts: &[String]) -> Result<(), RunError> {
        let before = self.ours(&self.applied.touched());
        let mut newly: Vec<String> = self
            .ours(&want.touched())
            .difference(&before)
            .chain(restarts.iter().filter(|r| !before.contains(*r)))
            .filter(|i| !self.refused.contains(*i))
            .cloned()
            .collect();
        newly.sort();
        newly.dedup();
        for instance in newly {
            let why = match self.recheck(&instance).await {
                Some(why) => Some(why),
                None => self.limit_broken(want, restarts, &instance).await,
            };
            if let Some(why) = why {
                self.refused.insert(instance.clone());
                let target = self.container(&instance);
                self.audit(Event::Skipped, &target, &format!("not touched: {why}"))?;
                tracing::warn!(instance, reason = why, "game day: an injection was skipped");
            }
        }
        Ok(())
    }

    /// Which limit taking `instance` (with what `want` and `restarts` take,
    /// less what is refused) would break, if any.
    async fn limit_broken(
        &self,
        want: &Desired,
        restarts: &[String],
        instance: &str,
    ) -> Option<String> {
        let kept = want.without(&self.refused);
        let mut taken = self.ours(&kept.touched());
        taken.extend(
            restarts
                .iter()
                .filter(|r| !self.refused.contains(*r))
                .cloned(),
        );
        if taken.len() as u32 > self.limits.instances_at_once {
            return Some(format!(
                "{} instances would be under faults at once; `limits.instances_at_once` is {}",
                taken.len(),
                self.limits.instances_at_once
            ));
        }
        let (service, _) = self.containers.get(instance)?;
        let mut healthy = 0u32;
        let mut now = 0u32;
        for (other, (s, _)) in &self.containers {
            if s != service || !self.healthy(other).await {
                continue;
            }
            now += 1;
            if !taken.contains(other) {
                healthy += 1;
            }
        }
        let keep = self.limits.keep_healthy;
        (healthy < keep).then(|| {
            format!(
                "it would leave {healthy} healthy replica(s) of `{service}` untouched ({now} healthy now); `limits.keep_healthy` is {keep}"
            )
        })
    }

    /// The instances of `names` squall may touch.
    fn ours(&self, names: &BTreeSet<String>) -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| self.session.is_ours(n))
            .cloned()
            .collect()
    }
}

impl Backend for Attached {
    type Extra = Extra;

    async fn up(setup: Setup<'_>, extra: Extra) -> Result<Self, RunError> {
        let Setup {
            scenario,
            plan,
            load,
            ..
        } = setup;
        let Extra {
            docker,
            planned,
            limits,
            audit,
            armed,
            run,
        } = extra;
        let everyone: Vec<String> = crate::fault::instances(scenario)
            .into_values()
            .flatten()
            .collect();
        let (links, http) = intercepted(plan, &everyone);
        let journal = Journal::create(&run).map_err(|e| {
            RunError::Backend(format!(
                "cannot write the journal in {}: {e}",
                crate::docker::journal::dir().display()
            ))
        })?;
        armed.arm(&run);
        let containers = planned
            .specs
            .iter()
            .map(|s| (s.instance.clone(), (s.service.clone(), s.container.clone())))
            .collect();
        let session = Session::attach(
            docker.clone(),
            &run,
            journal,
            planned.specs,
            planned.gateway,
            links,
            http,
        )
        .await?;
        let authorities = load
            .targets
            .iter()
            .filter_map(|i| session.authority(i))
            .collect();
        let start = Instant::now() + LEAD;
        let stop = Arc::new(AtomicBool::new(false));
        let driver = tokio::spawn(load::real_time(
            load,
            authorities,
            start,
            stop.clone(),
            load::default_threads(),
        ));
        let (tell, interrupted) = oneshot::channel();
        let lever = docker.clone();
        let watcher = tokio::spawn(async move {
            let error = tokio::select! {
                sig = crate::docker::run::signalled() => format!("{sig} during the game day"),
                halted = halt::pulled(&lever) => halted,
            };
            let _ = tell.send(RunError::Aborted(format!(
                "{error}; every fault was healed"
            )));
        });
        tokio::time::sleep_until(start).await;
        Ok(Attached {
            session,
            docker,
            run,
            limits,
            audit,
            armed,
            start,
            driver,
            drain: scenario.workload.deadline + Duration::from_secs(2),
            stop,
            interrupted,
            watcher,
            containers,
            refused: BTreeSet::new(),
            applied: Desired::default(),
        })
    }

    fn plan(
        _scenario: &crate::scenario::Scenario,
        _seed: u64,
        _duration: Duration,
        extra: &Extra,
    ) -> Vec<crate::fault::PlannedFault> {
        extra.planned.faults.clone()
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    async fn advance(&mut self, until: Duration) -> Result<bool, RunError> {
        tokio::select! {
            () = tokio::time::sleep_until(self.start + until) => Ok(true),
            done = &mut self.driver => match done {
                Ok(Ok(())) => Ok(false),
                Ok(Err(e)) => Err(RunError::Backend(format!("cannot start the workload's senders: {e}"))),
                Err(e) => Err(RunError::Backend(format!("the workload driver failed: {e}"))),
            },
            e = &mut self.interrupted => Err(stopped(e)),
        }
    }

    async fn reconcile(
        &mut self,
        want: &Desired,
        restarts: &[String],
        at: Duration,
    ) -> Result<(), RunError> {
        self.rails(want, restarts).await?;
        let kept = want.without(&self.refused);
        let restarts: Vec<String> = restarts
            .iter()
            .filter(|r| !self.refused.contains(*r))
            .cloned()
            .collect();
        // Audited before the change, so that a squall that dies mid-change
        // leaves a log that says what it was doing.
        let before = self.ours(&self.applied.touched());
        let after = self.ours(&kept.touched());
        for i in after
            .iter()
            .filter(|i| kept.of_instance(i) != self.applied.of_instance(i))
        {
            let what = kept.of_instance(i).join(", ");
            self.audit(Event::Inject, &self.container(i), &what)?;
        }
        for r in &restarts {
            self.audit(Event::Inject, &self.container(r), "restart")?;
        }
        for i in before.difference(&after) {
            self.audit(Event::Heal, &self.container(i), "healed")?;
        }
        tokio::select! {
            r = self.session.reconcile(&kept, &restarts, self.start + at) => r?,
            e = &mut self.interrupted => return Err(stopped(e)),
        }
        self.applied = kept;
        Ok(())
    }

    fn stop_load(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    const SPANS_AS_THEY_END: bool = false;

    /// Attached containers are someone else's: squall reads no spans from them.
    async fn spans(&mut self, _all: bool) -> Vec<Spans> {
        Vec::new()
    }

    async fn received(&mut self) -> Received {
        Received::new()
    }

    async fn end(&mut self, ran: Result<(), RunError>) -> Result<(), RunError> {
        self.stop.store(true, Ordering::Relaxed);
        if !self.driver.is_finished() {
            let _ = tokio::time::timeout(self.drain, &mut self.driver).await;
        }
        self.driver.abort();
        self.watcher.abort();
        if let Err(e) = &ran {
            self.audit(Event::Abort, "", &e.to_string())?;
        }
        let healed = self.session.heal_all().await;
        for i in self.ours(&self.applied.touched()) {
            self.audit(Event::Heal, &self.container(&i), "healed")?;
        }
        self.applied = Desired::default();
        ran?;
        healed.map_err(RunError::from)
    }

    async fn down(self, ended: Result<(), RunError>) -> Result<(), RunError> {
        let removed = self.session.teardown().await;
        let audit = |event: Event, detail: &str| {
            let mut audit = self.audit.lock().unwrap_or_else(|e| e.into_inner());
            audit
                .write(event, "", detail)
                .map_err(|e| RunError::Backend(e.to_string()))
        };
        match &removed {
            Ok(()) => {
                self.armed.disarm();
                audit(Event::End, &format!("run {}: every fault undone", self.run))?;
            }
            Err(e) => audit(Event::End, &format!("run {}: not healed: {e}", self.run))?,
        }
        ended?;
        removed.map_err(RunError::from)
    }
}

fn stopped(told: Result<RunError, oneshot::error::RecvError>) -> RunError {
    told.unwrap_or_else(|_| RunError::Backend("the game day's watch on the engine ended".into()))
}

/// Links whose traffic goes through squall's proxy: every link a latency
/// fault touches, and every link into a target an `error` fault takes (the
/// proxy answers the errors: an attached container has no admin endpoint
/// of squall's), from the workload and every other instance; and those
/// targets.
fn intercepted(
    plan: &[crate::fault::PlannedFault],
    everyone: &[String],
) -> (Vec<(String, String)>, BTreeSet<String>) {
    let mut links: BTreeSet<(String, String)> = BTreeSet::new();
    let mut http = BTreeSet::new();
    for effect in plan.iter().flat_map(|f| &f.effects) {
        match effect {
            Effect::Delay { a, b, .. } => {
                links.insert((a.clone(), b.clone()));
            }
            Effect::Error { instance, .. } => {
                http.insert(instance.clone());
                links.insert((WORKLOAD_HOST.to_owned(), instance.clone()));
                for other in everyone.iter().filter(|o| *o != instance) {
                    links.insert((other.clone(), instance.clone()));
                }
            }
            _ => {}
        }
    }
    (links.into_iter().collect(), http)
}
