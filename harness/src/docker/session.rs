//! A live topology on the engine: the run's network, one container per
//! instance, and the reconciler that turns fault effects into real changes.
//!
//! Faults may overlap, so the run core keeps the faults in force
//! ([`FaultState`](crate::engine::FaultState)) and says what they want ([`Desired`]); here each step
//! turns that into the wanted engine state (down, paused, nft rules per
//! instance, proxy delays, injected errors) and applies only the difference,
//! as the simulator does with turmoil's links (`sim/network.rs`). A restarted container has a new process and a new
//! network namespace: its table, proxy and injected error are installed again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::Docker;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use indexmap::IndexMap;
use squall_fixture::{HttpClient, InstanceConfig, Span, Tokio};
use tokio::time::Instant;

use super::container::{self, Spec};
use super::endpoint;
use super::journal::{Entry, Journal};
use super::lease::Lease;
use super::network::{self, Network};
use super::nft::{self, Rules};
use super::proxy::{Delays, Errors, Proxy};
use super::DockerError;
use crate::engine::Desired;
use crate::fault::WORKLOAD_HOST;
use crate::scenario::compose::{start_waves, ComposeService};

/// How long an instance may take to answer after its container starts.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long an admin request may take (a paused instance never answers).
const ADMIN_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long reading an instance's spans may take (a minute of load is a few MB of JSON).
const SPANS_TIMEOUT: Duration = Duration::from_secs(10);

/// The spans one life of an instance recorded, and how its clock lines up with ours.
///
/// A fixture's span times are on its own monotonic clock (time since the process started,
/// [`squall_fixture::clock::now`]); `GET /squall/clock` read `clock` on it at our instant
/// `at` (the midpoint of the fastest of a few probes, so within half a loopback round trip).
#[derive(Debug)]
pub struct Recorded {
    pub instance: String,
    pub spans: Vec<Span>,
    clock: Duration,
    at: Instant,
}

impl Recorded {
    /// `t` on the instance's clock as time since `start` on ours (zero before `start`).
    pub fn since(&self, t: Duration, start: Instant) -> Duration {
        let ours = if t >= self.clock {
            Some(self.at + (t - self.clock))
        } else {
            self.at.checked_sub(self.clock - t)
        };
        ours.map_or(Duration::ZERO, |i| i.saturating_duration_since(start))
    }
}

/// What one instance runs.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub instance: String,
    pub service: String,
    pub image: String,
    pub port: u16,
    /// The fixture's config; upstream authorities name instances
    /// (`ledger-1:80`) and are rewritten to addresses.
    pub config: InstanceConfig,
    /// What the compose file says to run, for a compose service (its
    /// environment instead of the fixture's config).
    pub compose: Option<ComposeService>,
}

/// A container a game day attaches to, as discovery found it.
#[derive(Debug, Clone)]
pub struct AttachSpec {
    pub instance: String,
    pub service: String,
    /// The container's id: pinned, so that a container replaced since
    /// (same name, new id) is never mistaken for it.
    pub container: String,
    pub address: Ipv4Addr,
    pub port: u16,
    /// squall may fault it ([`Instance`]).
    pub ours: bool,
}

/// An instance as it runs.
#[derive(Debug)]
pub struct Instance {
    pub service: String,
    pub container: String,
    pub address: Ipv4Addr,
    pub port: u16,
    pid: i64,
    proxy: Option<Proxy>,
    /// Requests counted by earlier lives (read before each kill).
    received_before: u64,
    /// It serves squall's admin endpoints (`/squall/stats`, spans, clock):
    /// squall's fixture, or an image of your own whose first life answered
    /// `/squall/stats` (a code service with squall's server layer,
    /// `squall::service::Context::from_env`). Only such instances count the
    /// requests they receive.
    admin: bool,
    /// How it is ready: the fixture's health endpoint, or the compose file's.
    ready: Ready,
    /// squall may fault it and put rules in its namespace: every instance of
    /// a topology squall built; on a game day, only the containers both keys
    /// allow ([`crate::gameday`]). Any other is only a peer, an address.
    ours: bool,
}

/// How squall knows an instance is ready for load.
#[derive(Debug, Clone)]
enum Ready {
    /// It answers any HTTP request on its port (the fixture, an image of your own).
    Answers,
    /// The engine calls it healthy (a compose `healthcheck`), within this long.
    Healthy(Duration),
    /// It is running (a compose service with neither a port nor a healthcheck).
    Running,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Proxy")
    }
}

/// When a fault change was asked for and when the engine confirmed it.
#[derive(Debug, Clone, Copy)]
pub struct Actuation {
    pub scheduled: Instant,
    pub confirmed: Instant,
}

/// The run's topology on the engine.
pub struct Session {
    pub docker: Docker,
    pub run: String,
    journal: Journal,
    /// The network squall created, removed at teardown; none on a game day.
    pub network: Option<Network>,
    /// The host's address on the instances' network: where the workload's
    /// traffic comes from.
    gateway: Ipv4Addr,
    pub instances: IndexMap<String, Instance>,
    intercepted: Vec<(String, String)>,
    delays: Delays,
    /// Instances whose `error` faults the proxy injects (no admin endpoint).
    http: BTreeSet<String>,
    proxy_errors: Errors,
    /// What the faults in force want, as last applied.
    want: Desired,
    down: BTreeSet<String>,
    paused: BTreeSet<String>,
    errors: BTreeMap<String, (u16, u32)>,
    rules: BTreeMap<String, Rules>,
    /// Renews the lease every instance's rules are gated on ([`nft`]).
    lease: Lease,
    client: HttpClient<Tokio>,
    /// Every applied change, for the benchmark.
    pub actuations: Vec<Actuation>,
    /// Spans read from lives that have ended (before each kill).
    recorded: Vec<Recorded>,
}

/// Container name of `instance` in run `run`.
pub fn container_name(run: &str, instance: &str) -> String {
    format!("squall-{run}-{instance}")
}

impl Session {
    /// Creates the network and the containers, starts them, installs each
    /// one's nft table (and proxy, for instances on a link in `intercepted`)
    /// and waits until every instance answers.
    pub async fn create(
        docker: Docker,
        run: &str,
        mut journal: Journal,
        specs: Vec<InstanceSpec>,
        intercepted: Vec<(String, String)>,
        http: BTreeSet<String>,
    ) -> Result<Session, DockerError> {
        if specs.len() > network::MAX_INSTANCES {
            return Err(DockerError::Unsupported(format!(
                "{} instances do not fit one network (max {})",
                specs.len(),
                network::MAX_INSTANCES
            )));
        }
        let net_name = format!("squall-{run}");
        let network = network::create(&docker, run, &net_name, |name| {
            journal
                .write(&Entry::Network {
                    name: name.to_owned(),
                })
                .map_err(journal_error)
        })
        .await?;
        let places: HashMap<String, (Ipv4Addr, u16)> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.instance.clone(), (network.address(i), s.port)))
            .collect();
        let mut instances = IndexMap::new();
        let mut containers = Vec::new();
        for spec in &specs {
            let mut config = spec.config.clone();
            for replicas in config.upstreams.values_mut() {
                for authority in replicas.iter_mut() {
                    let name = authority
                        .rsplit_once(':')
                        .map_or(authority.as_str(), |(h, _)| h);
                    if let Some((ip, port)) = places.get(name) {
                        *authority = format!("{ip}:{port}");
                    }
                }
            }
            config.port = spec.port;
            let (address, port) = places[&spec.instance];
            let name = container_name(run, &spec.instance);
            journal
                .write(&Entry::Container { name: name.clone() })
                .map_err(journal_error)?;
            let aliases = vec![spec.service.clone(), spec.instance.clone()];
            let (env, cmd, entrypoint, healthcheck, ready) = match &spec.compose {
                None => (
                    vec![format!(
                        "{}={}",
                        squall_fixture::config::CONFIG_ENV,
                        config.to_json()
                    )],
                    None,
                    None,
                    None,
                    Ready::Answers,
                ),
                Some(c) => (
                    c.environment.clone(),
                    c.command.clone(),
                    c.entrypoint.clone(),
                    c.healthcheck.as_ref().map(health_config),
                    match (&c.healthcheck, c.port) {
                        (Some(h), _) => Ready::Healthy(h.patience()),
                        (None, Some(_)) => Ready::Answers,
                        (None, None) => Ready::Running,
                    },
                ),
            };
            containers.push(Spec {
                name: name.clone(),
                instance: spec.instance.clone(),
                image: spec.image.clone(),
                address,
                env,
                cmd,
                entrypoint,
                healthcheck,
                aliases,
            });
            instances.insert(
                spec.instance.clone(),
                Instance {
                    service: spec.service.clone(),
                    container: name,
                    address,
                    port,
                    pid: 0,
                    proxy: None,
                    received_before: 0,
                    admin: spec.image == super::image::FIXTURE_IMAGE,
                    ready,
                    ours: true,
                },
            );
        }
        let mut session = Session {
            docker,
            run: run.to_owned(),
            journal,
            gateway: network.gateway(),
            network: Some(network.clone()),
            instances,
            intercepted,
            delays: Delays::default(),
            http,
            proxy_errors: Errors::default(),
            want: Desired::default(),
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
            errors: BTreeMap::new(),
            rules: BTreeMap::new(),
            lease: Lease::start(nft::table_name(run)),
            client: HttpClient::new(),
            recorded: Vec::new(),
            actuations: Vec::new(),
        };
        // Creating touches no network endpoint, so it goes in parallel; each
        // start joins the network, so those go one at a time (`endpoint`).
        let docker = session.docker.clone();
        let net = network;
        let created = futures_util::future::join_all(
            containers
                .iter()
                .map(|spec| container::create(&docker, run, &net, spec)),
        )
        .await;
        for result in created {
            result?;
        }
        // Wave by wave in `depends_on` order (every fixture service in the
        // first); a `service_healthy` dependency is ready before the next.
        let mut composed: Vec<ComposeService> = Vec::new();
        for c in specs.iter().filter_map(|s| s.compose.as_ref()) {
            if !composed.iter().any(|a| a.name == c.name) {
                composed.push(c.clone());
            }
        }
        let waves = start_waves(&composed);
        let awaited: BTreeSet<&str> = composed
            .iter()
            .flat_map(|c| c.depends_on.iter().filter(|d| d.healthy))
            .map(|d| d.service.as_str())
            .collect();
        let wave_of = |service: &str| waves.get(service).copied().unwrap_or(0);
        let mut ready = BTreeSet::new();
        for wave in 0..=waves.values().copied().max().unwrap_or(0) {
            let here: Vec<(&Spec, &InstanceSpec)> = containers
                .iter()
                .zip(&specs)
                .filter(|(_, s)| wave_of(&s.service) == wave)
                .collect();
            for (container, _) in &here {
                endpoint::start(&docker, &container.name).await?;
            }
            for (_, spec) in &here {
                session.install(&spec.instance).await?;
            }
            for (_, spec) in &here {
                if awaited.contains(spec.service.as_str()) {
                    session.wait_ready(&spec.instance).await?;
                    ready.insert(spec.instance.clone());
                }
            }
        }
        for spec in &specs {
            if !ready.contains(&spec.instance) {
                session.wait_ready(&spec.instance).await?;
            }
        }
        // An image of your own may serve the admin endpoints too.
        for spec in specs.iter().filter(|s| s.compose.is_none()) {
            if !session.instances[&spec.instance].admin {
                let serves = session.stats(&spec.instance).await.is_some();
                session.instances[&spec.instance].admin = serves;
            }
        }
        Ok(session)
    }

    /// A session on containers that already run (a game day): nothing is
    /// created; each instance squall may touch gets its table (and proxy,
    /// when on a link in `intercepted`) now, the others are only addresses.
    /// `gateway` is the host's address on their network.
    pub async fn attach(
        docker: Docker,
        run: &str,
        journal: Journal,
        specs: Vec<AttachSpec>,
        gateway: Ipv4Addr,
        intercepted: Vec<(String, String)>,
        http: BTreeSet<String>,
    ) -> Result<Session, DockerError> {
        let instances = specs
            .iter()
            .map(|spec| {
                let instance = Instance {
                    service: spec.service.clone(),
                    container: spec.container.clone(),
                    address: spec.address,
                    port: spec.port,
                    pid: 0,
                    proxy: None,
                    received_before: 0,
                    admin: false,
                    ready: Ready::Running,
                    ours: spec.ours,
                };
                (spec.instance.clone(), instance)
            })
            .collect();
        let mut session = Session {
            docker,
            run: run.to_owned(),
            journal,
            network: None,
            gateway,
            instances,
            intercepted,
            delays: Delays::default(),
            http,
            proxy_errors: Errors::default(),
            want: Desired::default(),
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
            errors: BTreeMap::new(),
            rules: BTreeMap::new(),
            lease: Lease::start(nft::table_name(run)),
            client: HttpClient::new(),
            recorded: Vec::new(),
            actuations: Vec::new(),
        };
        for spec in specs.iter().filter(|s| s.ours) {
            session.install(&spec.instance).await?;
        }
        Ok(session)
    }

    /// Whether squall may touch `name` (see [`Instance`]).
    pub fn is_ours(&self, name: &str) -> bool {
        self.instances.get(name).is_some_and(|i| i.ours)
    }

    /// The address of an instance, or of the gateway for the workload.
    pub fn address(&self, name: &str) -> Option<Ipv4Addr> {
        if name == WORKLOAD_HOST {
            return Some(self.gateway);
        }
        self.instances.get(name).map(|i| i.address)
    }

    /// The pid of an instance's process (0 while it is down).
    pub fn pid(&self, name: &str) -> Option<i64> {
        self.instances.get(name).map(|i| i.pid)
    }

    /// `ip:port` of an instance.
    pub fn authority(&self, name: &str) -> Option<String> {
        self.instances
            .get(name)
            .map(|i| format!("{}:{}", i.address, i.port))
    }

    /// After a (re)start: the new pid, the table, the proxy, the error.
    async fn install(&mut self, name: &str) -> Result<(), DockerError> {
        let table = nft::table_name(&self.run);
        let container = self.instances[name].container.clone();
        let (pid, _) = container::state(&self.docker, &container).await?;
        if pid == 0 {
            return Err(DockerError::Engine(format!(
                "container `{container}` is not running (hint: `docker logs {container}`)"
            )));
        }
        self.journal
            .write(&Entry::Table {
                container: container.clone(),
                table: table.clone(),
            })
            .map_err(journal_error)?;
        let rules = self.rules_of(name);
        self.apply_rules(name, pid, &table, rules).await?;
        let intercepted = self.intercepted.iter().any(|(a, b)| a == name || b == name);
        let proxy = if intercepted {
            let errors = self.http.contains(name).then(|| self.proxy_errors.clone());
            Some(Proxy::start(pid, self.delays.clone(), errors).map_err(|e| {
                DockerError::Engine(format!(
                    "cannot start the latency proxy in the namespace of `{container}`: {e} (hint: squall needs root for latency faults)"
                ))
            })?)
        } else {
            None
        };
        let instance = &mut self.instances[name];
        instance.pid = pid;
        instance.proxy = proxy;
        Ok(())
    }

    /// Waits until `name` is ready: it answers any HTTP request, or the
    /// engine calls it healthy (a compose healthcheck), or it runs.
    async fn wait_ready(&self, name: &str) -> Result<(), DockerError> {
        match self.instances[name].ready {
            Ready::Answers => self.wait_answers(name).await,
            Ready::Healthy(patience) => self.wait_healthy(name, patience).await,
            Ready::Running => Ok(()),
        }
    }

    /// Waits until the engine reports `name`'s healthcheck as passing, at
    /// most `patience` (its start period and every retry).
    async fn wait_healthy(&self, name: &str, patience: Duration) -> Result<(), DockerError> {
        use bollard::models::HealthStatusEnum;
        let instance = &self.instances[name];
        let started = Instant::now();
        loop {
            let state = container::inspect_state(&self.docker, &instance.container).await?;
            let health = state.health.unwrap_or_default();
            let status = health.status.unwrap_or(HealthStatusEnum::EMPTY);
            if status == HealthStatusEnum::HEALTHY {
                return Ok(());
            }
            if started.elapsed() > patience || !state.running.unwrap_or(false) {
                let last = health
                    .log
                    .unwrap_or_default()
                    .pop()
                    .map(|r| {
                        format!(
                            "; its last check exited {}: {}",
                            r.exit_code.unwrap_or(-1),
                            r.output.unwrap_or_default().trim()
                        )
                    })
                    .unwrap_or_default();
                let why = if state.running.unwrap_or(false) {
                    format!(
                        "was `{status}` after {}s{last}",
                        started.elapsed().as_secs()
                    )
                } else {
                    format!(
                        "stopped (exit code {}){last}",
                        state.exit_code.unwrap_or(-1)
                    )
                };
                return Err(DockerError::Engine(format!(
                    "service `{}` never got healthy: instance `{name}` {why} (hint: `docker logs {}`; squall waits its healthcheck's start_period plus every retry, {}s here)",
                    instance.service,
                    instance.container,
                    patience.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `name` answers any HTTP request.
    async fn wait_answers(&self, name: &str) -> Result<(), DockerError> {
        let authority = self.authority(name).unwrap_or_default();
        let end = Instant::now() + READY_TIMEOUT;
        let headers = http::HeaderMap::new();
        loop {
            let probe = self.client.get(&authority, "/squall/health", &headers);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), probe).await {
                return Ok(());
            }
            if Instant::now() > end {
                let container = &self.instances[name].container;
                return Err(DockerError::Engine(format!(
                    "instance `{name}` did not answer within {}s (hint: `docker logs {container}`)",
                    READY_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn rules_of(&self, name: &str) -> Rules {
        let port = self.instances.get(name).map_or(80, |i| i.port);
        nft::rules_for(
            name,
            &self.want,
            &self.intercepted,
            |n| self.address(n),
            |n| self.instances.get(n).is_some_and(|i| i.ours),
            port,
        )
    }

    /// Brings the engine to the state `want`, restarting `restarts` (unless
    /// `want` has them down). `scheduled` is when this was due.
    pub async fn reconcile(
        &mut self,
        want: &Desired,
        restarts: &[String],
        scheduled: Instant,
    ) -> Result<(), DockerError> {
        self.want = want.clone();
        self.reconcile_down(restarts).await?;
        self.reconcile_paused().await?;
        self.reconcile_rules().await?;
        self.reconcile_delays();
        self.reconcile_errors().await?;
        self.actuations.push(Actuation {
            scheduled,
            confirmed: Instant::now(),
        });
        Ok(())
    }

    async fn reconcile_down(&mut self, restarts: &[String]) -> Result<(), DockerError> {
        let want = self.want.down.clone();
        for gone in want.difference(&self.down).cloned().collect::<Vec<_>>() {
            self.kill(&gone).await?;
        }
        for back in self.down.difference(&want).cloned().collect::<Vec<_>>() {
            self.start(&back).await?;
        }
        for r in restarts.iter().filter(|r| !want.contains(*r)) {
            self.kill(r).await?;
            self.start(r).await?;
        }
        self.down = want;
        Ok(())
    }

    async fn kill(&mut self, name: &str) -> Result<(), DockerError> {
        // What this life counted and recorded dies with it: read it first, unless it is
        // paused (it could not answer; the kill is not held up for it).
        if !self.paused.contains(name) && self.instances[name].admin {
            if let Some((received, _)) = self.stats(name).await {
                self.instances[name].received_before += received;
                self.record_spans(name).await;
            }
        }
        let container = self.instances[name].container.clone();
        self.journal
            .write(&Entry::Kill {
                container: container.clone(),
            })
            .map_err(journal_error)?;
        if self.paused.remove(name) {
            container::unpause(&self.docker, &container).await?;
        }
        // Returns once the engine has processed the exit: several kills at
        // one instant must not leave the network together (`endpoint`).
        endpoint::stop(&self.docker, &container).await?;
        let instance = &mut self.instances[name];
        instance.proxy = None;
        instance.pid = 0;
        self.rules.remove(name);
        self.lease.release(name);
        Ok(())
    }

    async fn start(&mut self, name: &str) -> Result<(), DockerError> {
        let container = self.instances[name].container.clone();
        endpoint::start(&self.docker, &container).await?;
        self.install(name).await?;
        self.wait_ready(name).await?;
        if let Some(&(status, ppm)) = self.errors.get(name) {
            if !self.http.contains(name) {
                self.post_error(name, Some((status, ppm))).await;
            }
        }
        Ok(())
    }

    async fn reconcile_paused(&mut self) -> Result<(), DockerError> {
        let want: BTreeSet<String> = self.want.paused_up().cloned().collect();
        for p in want.difference(&self.paused).cloned().collect::<Vec<_>>() {
            let container = self.instances[&p].container.clone();
            self.journal
                .write(&Entry::Pause {
                    container: container.clone(),
                })
                .map_err(journal_error)?;
            container::pause(&self.docker, &container).await?;
        }
        for p in self.paused.difference(&want).cloned().collect::<Vec<_>>() {
            let container = self.instances[&p].container.clone();
            container::unpause(&self.docker, &container).await?;
        }
        self.paused = want;
        Ok(())
    }

    async fn reconcile_rules(&mut self) -> Result<(), DockerError> {
        let table = nft::table_name(&self.run);
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            if self.down.contains(&name) || !self.instances[&name].ours {
                continue;
            }
            let want = self.rules_of(&name);
            if self.rules.get(&name) == Some(&want) {
                continue;
            }
            let pid = self.instances[&name].pid;
            self.apply_rules(&name, pid, &table, want).await?;
        }
        Ok(())
    }

    /// Makes `name`'s table (process `pid`) hold `rules` on a fresh lease,
    /// renewed from then on while it holds any.
    async fn apply_rules(
        &mut self,
        name: &str,
        pid: i64,
        table: &str,
        rules: Rules,
    ) -> Result<(), DockerError> {
        let own = self.instances[name].address;
        nft::run_in(pid, &nft::script(table, &rules, own)).await?;
        if rules.is_empty() {
            self.lease.release(name);
        } else {
            self.lease.hold(name, pid, own);
        }
        self.rules.insert(name.to_owned(), rules);
        Ok(())
    }

    fn reconcile_delays(&mut self) {
        let mut all: HashMap<(Ipv4Addr, Ipv4Addr), (Duration, Duration)> = HashMap::new();
        for ((a, b), link) in &self.want.delays {
            let (Some(x), Some(y)) = (self.address(a), self.address(b)) else {
                continue;
            };
            for key in [(x, y), (y, x)] {
                let slot = all.entry(key).or_default();
                slot.0 += link.delay;
                slot.1 += link.jitter;
            }
        }
        self.delays.set(all);
    }

    async fn reconcile_errors(&mut self) -> Result<(), DockerError> {
        for (k, new) in self.want.error_changes(&self.errors) {
            if new.is_some() {
                let container = self.instances[&k].container.clone();
                self.journal
                    .write(&Entry::Error { container })
                    .map_err(journal_error)?;
            }
            if !self.down.contains(&k) && !self.http.contains(&k) {
                self.post_error(&k, new).await;
            }
        }
        self.errors = self.want.errors.clone();
        // The proxied ones: every answer of the proxy looks the table up.
        let table = self
            .errors
            .iter()
            .filter(|(k, _)| self.http.contains(*k))
            .filter_map(|(k, e)| Some((self.address(k)?, *e)))
            .collect();
        self.proxy_errors.set(table);
        Ok(())
    }

    /// Sets or clears the injected error of `name` through its admin endpoint.
    async fn post_error(&self, name: &str, error: Option<(u16, u32)>) {
        let Some(authority) = self.authority(name) else {
            return;
        };
        let (method, uri) = match error {
            Some((status, ppm)) => (
                Method::POST,
                format!(
                    "http://{authority}/squall/error?status={status}&rate={}",
                    f64::from(ppm) / 1e6
                ),
            ),
            None => (Method::DELETE, format!("http://{authority}/squall/error")),
        };
        let Ok(request) = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::new()))
        else {
            return;
        };
        match tokio::time::timeout(ADMIN_TIMEOUT, self.client.send(request)).await {
            Ok(Ok(r)) if r.status().is_success() => {}
            other => tracing::warn!(
                instance = name,
                ?other,
                "the admin endpoint did not take the error"
            ),
        }
    }

    /// `(received, completed)` of the current life of `name`.
    pub async fn stats(&self, name: &str) -> Option<(u64, u64)> {
        let authority = self.authority(name)?;
        let request = Request::get(format!("http://{authority}/squall/stats"))
            .body(Full::new(Bytes::new()))
            .ok()?;
        let reply = tokio::time::timeout(ADMIN_TIMEOUT, self.client.send(request))
            .await
            .ok()?
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(reply.body()).ok()?;
        Some((json["received"].as_u64()?, json["completed"].as_u64()?))
    }

    /// Heals every active effect: the state no fault wants anything of.
    pub async fn heal_all(&mut self) -> Result<(), DockerError> {
        self.reconcile(&Desired::default(), &[], Instant::now())
            .await
    }

    /// Requests that reached each instance over all its lives, by service.
    /// Only an instance that serves the admin endpoints counts them; any
    /// other is left out (not measured, rather than 0).
    pub async fn received(&self) -> IndexMap<String, IndexMap<String, u64>> {
        let mut out: IndexMap<String, IndexMap<String, u64>> = IndexMap::new();
        for (name, instance) in &self.instances {
            if !instance.admin {
                continue;
            }
            let now = if self.down.contains(name) {
                0
            } else {
                self.stats(name).await.map_or(0, |(r, _)| r)
            };
            out.entry(instance.service.clone())
                .or_default()
                .insert(name.clone(), instance.received_before + now);
        }
        out
    }

    /// Reads `name`'s spans (the instance keeps none) with its clock's offset, into the
    /// session's record. Only an instance that serves the admin endpoints is asked
    /// (a gateway image forwarding `/squall/` to a fixture behind it would hand over
    /// the fixture's spans as its own); one that should answer and does not is a
    /// warning: its traces are missing.
    async fn record_spans(&mut self, name: &str) {
        let Some(authority) = self.authority(name) else {
            return;
        };
        if !self.instances.get(name).is_some_and(|i| i.admin) {
            return;
        }
        let Some((clock, at)) = self.clock(&authority).await else {
            tracing::warn!(instance = name, "no clock reading; its spans are not read");
            return;
        };
        let read = async {
            let request = Request::get(format!("http://{authority}/squall/spans"))
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            let reply = tokio::time::timeout(SPANS_TIMEOUT, self.client.send(request))
                .await
                .map_err(|_| format!("no answer within {}s", SPANS_TIMEOUT.as_secs()))?
                .map_err(|e| e.to_string())?;
            if reply.status() == http::StatusCode::NOT_FOUND {
                return Err(
                    "it does not serve /squall/spans (an image older than this squall? \
                     rebuild it with `cargo run --example fixture_image`)"
                        .to_owned(),
                );
            }
            if !reply.status().is_success() {
                return Err(format!("status {}", reply.status()));
            }
            serde_json::from_slice::<Vec<Span>>(reply.body()).map_err(|e| e.to_string())
        };
        match read.await {
            Ok(spans) => self.recorded.push(Recorded {
                instance: name.to_owned(),
                spans,
                clock,
                at,
            }),
            Err(e) => tracing::warn!(instance = name, error = %e, "cannot read its spans"),
        }
    }

    /// The instance's clock and our instant when it was read: the fastest of three probes.
    async fn clock(&self, authority: &str) -> Option<(Duration, Instant)> {
        let mut best: Option<(Duration, Duration, Instant)> = None;
        for _ in 0..3 {
            let request = Request::get(format!("http://{authority}/squall/clock"))
                .body(Full::new(Bytes::new()))
                .ok()?;
            let sent = Instant::now();
            let reply = tokio::time::timeout(ADMIN_TIMEOUT, self.client.send(request))
                .await
                .ok()?
                .ok()?;
            let rtt = sent.elapsed();
            if !reply.status().is_success() {
                return None;
            }
            let json: serde_json::Value = serde_json::from_slice(reply.body()).ok()?;
            let clock = Duration::from_micros(json["now_us"].as_u64()?);
            if best.is_none_or(|(fastest, _, _)| rtt < fastest) {
                best = Some((rtt, clock, sent + rtt / 2));
            }
        }
        best.map(|(_, clock, at)| (clock, at))
    }

    /// The first instance squall means to be running (not killed by a fault)
    /// whose container is not: stopped from outside, or its process ended.
    /// Its last log lines are read now, before teardown removes them.
    pub async fn stopped_from_outside(&self) -> Option<DockerError> {
        // One listing for the whole run; only a stopped container is inspected.
        let states: BTreeMap<String, String> = container::list(&self.docker, Some(&self.run))
            .await
            .ok()?
            .into_iter()
            .map(|c| (c.name, c.state))
            .collect();
        for (name, instance) in &self.instances {
            let up = matches!(
                states.get(&instance.container).map(String::as_str),
                Some("running" | "paused")
            );
            if up || self.down.contains(name) {
                continue;
            }
            if let Ok(Some(ended)) = container::ended(&self.docker, &instance.container).await {
                return Some(DockerError::Stopped {
                    instance: name.clone(),
                    exit_code: ended.exit_code,
                    oom_killed: ended.oom_killed,
                    last_logs: container::last_logs(&self.docker, &instance.container, 10).await,
                });
            }
        }
        None
    }

    /// Every span of the run: the lives read before their kills, then every running
    /// instance's current life (call after healing: a paused instance cannot answer).
    pub async fn spans(&mut self) -> Vec<Recorded> {
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            if !self.down.contains(&name) && !self.paused.contains(&name) {
                self.record_spans(&name).await;
            }
        }
        std::mem::take(&mut self.recorded)
    }

    /// Undoes what needs no engine, once it stopped answering: the latency
    /// proxies (threads of this process) and the nft table in every running
    /// instance's namespace (entered by pid). Returns the instances whose
    /// table went. Pauses, containers and the network stay for `squall heal`.
    pub async fn heal_without_engine(&mut self) -> Vec<String> {
        let table = nft::table_name(&self.run);
        let mut cleared = Vec::new();
        for (name, instance) in &mut self.instances {
            instance.proxy = None;
            if instance.pid > 0 && nft::delete_table(instance.pid, &table).await.is_ok() {
                cleared.push(name.clone());
            }
        }
        cleared
    }

    /// Removes every container, one at a time, each stopped before its
    /// removal (`endpoint`: removing them all at once can wedge the engine),
    /// then the network, then the journal. An attached session removes no
    /// container: only squall's tables in the ones it touched.
    pub async fn teardown(mut self) -> Result<(), DockerError> {
        for instance in self.instances.values_mut() {
            instance.proxy = None;
        }
        let mut first_error = None;
        match &self.network {
            Some(network) => {
                for instance in self.instances.values() {
                    if let Err(e) = endpoint::remove(&self.docker, &instance.container).await {
                        first_error.get_or_insert(e);
                    }
                }
                if let Err(e) = network::remove(&self.docker, &network.name).await {
                    first_error.get_or_insert(e);
                }
            }
            // Attached: the containers are someone else's; only squall's
            // (empty, once healed) tables go.
            None => {
                let table = nft::table_name(&self.run);
                for instance in self.instances.values().filter(|i| i.ours && i.pid > 0) {
                    if let Err(e) = nft::delete_table(instance.pid, &table).await {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => self.journal.finish().map_err(journal_error),
        }
    }
}

/// A compose healthcheck as the engine takes it (durations in nanoseconds).
fn health_config(h: &crate::scenario::compose::Healthcheck) -> bollard::models::HealthConfig {
    let ns = |d: Option<Duration>| d.map(|d| d.as_nanos() as i64);
    bollard::models::HealthConfig {
        test: Some(h.test.clone()),
        interval: ns(h.interval),
        timeout: ns(h.timeout),
        retries: h.retries.map(i64::from),
        start_period: ns(h.start_period),
        start_interval: None,
    }
}

fn journal_error(e: std::io::Error) -> DockerError {
    DockerError::Engine(format!(
        "cannot write the journal in {}: {e}",
        super::journal::dir().display()
    ))
}
