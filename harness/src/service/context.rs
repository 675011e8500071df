//! What a code service is told when it starts: who it is, its seed, where its
//! dependencies are, and the network, layers and client to use.
//!
//! The simulator builds one [`Context`] per start of an instance (the first,
//! and one after each kill or restart). A real process builds one with
//! [`Context::from_env`] in a container squall's Docker backend started (the
//! instance's config is in its environment), or with [`Context::outside`]
//! from its own configuration.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper_util::client::legacy::Client;
use indexmap::IndexMap;
use squall_fixture::config::CONFIG_ENV;
use squall_fixture::{Control, InstanceConfig};

use super::layer::{ClientLayer, ServerLayer, Tap};
use super::net::{Connector, Listener, Names, Net};

/// Everything one start of a code service instance is given.
#[derive(Clone)]
pub struct Context {
    pub(crate) service: String,
    pub(crate) instance: String,
    pub(crate) replica: u32,
    pub(crate) seed: u64,
    pub(crate) start: u64,
    pub(crate) port: u16,
    pub(crate) net: Net,
    /// Called service -> its instances' authorities (`ledger-1:80`).
    pub(crate) dependencies: IndexMap<String, Vec<String>>,
    pub(crate) names: Arc<Names>,
    pub(crate) tap: Option<Tap>,
    /// Set once the service builds squall's server layer.
    pub(crate) layered: Arc<AtomicBool>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("instance", &self.instance)
            .field("seed", &self.seed)
            .field("start", &self.start)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

/// Why [`Context::from_env`] gave no context.
#[derive(Debug, thiserror::Error)]
pub enum FromEnvError {
    /// The variable is not set: the process was not started by squall.
    #[error("${CONFIG_ENV} is not set (hint: squall's Docker backend sets it in every container it starts; started by hand, build the context with `Context::outside`)")]
    Missing,
    /// It is set to something that is not an instance's config.
    #[error("${CONFIG_ENV}: {0}")]
    Invalid(String),
}

impl Context {
    /// The context of a process squall's Docker backend started: its
    /// service, instance, port, seed and dependencies (`ledger` -> the
    /// `IP:port` of each of its instances, so a `FROM scratch` image needs no
    /// name lookup) from `$SQUALL_FIXTURE_CONFIG`, as the fixture reads them.
    ///
    /// Unlike [`Context::outside`], its server layer records spans and
    /// counts requests as in the simulator, and answers squall's admin
    /// endpoints (`/squall/health`, `/squall/stats`, `/squall/spans`,
    /// `/squall/clock`, `/squall/error`) in front of the service's routes: so
    /// on Docker too, traces, wasted work and amplification cover the
    /// service, and `error` faults are injected by the layer. Each container
    /// start is a new process, so [`Context::restarts`] is 0.
    pub fn from_env() -> Result<Self, FromEnvError> {
        let text = std::env::var(CONFIG_ENV).map_err(|_| FromEnvError::Missing)?;
        Self::from_config_json(&text)
    }

    /// [`Context::from_env`] on the variable's text.
    fn from_config_json(text: &str) -> Result<Self, FromEnvError> {
        let config =
            InstanceConfig::from_json(text).map_err(|e| FromEnvError::Invalid(e.to_string()))?;
        let control = Control::default();
        control.count_start();
        Ok(Context {
            replica: replica_of(&config.instance),
            seed: config.seed,
            start: 0,
            port: config.port,
            net: Net::Tokio,
            names: Arc::new(Names::new(config.upstreams.clone())),
            tap: Some(Tap::new(control, &config.instance, config.seed, 0)),
            layered: Arc::default(),
            service: config.service,
            instance: config.instance,
            dependencies: config.upstreams,
        })
    }

    /// A context for a real process on tokio's network: instance `instance`
    /// of `service`, listening on `port`, with `dependencies` (service ->
    /// authorities) as the process's configuration says. Its connector
    /// sends `http://ledger:80/..` to `ledger`'s authorities in turn (their
    /// ports win); its layers record nothing (nobody would read the spans)
    /// but still forward the request id and deadline.
    pub fn outside(
        service: &str,
        instance: &str,
        port: u16,
        dependencies: IndexMap<String, Vec<String>>,
    ) -> Self {
        Context {
            service: service.to_owned(),
            instance: instance.to_owned(),
            replica: replica_of(instance),
            seed: 0,
            start: 0,
            port,
            net: Net::Tokio,
            names: Arc::new(Names::new(dependencies.clone())),
            dependencies,
            tap: None,
            layered: Arc::default(),
        }
    }

    /// The service's name in the scenario (`fraud`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// This instance's name (`fraud-2`): also its host name in the simulator.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Its replica index, from 1 (`fraud-2` is 2).
    pub fn replica(&self) -> u32 {
        self.replica
    }

    /// This instance's seed, from the run's: seed every random choice with
    /// it (a `rand_chacha::ChaCha8Rng::seed_from_u64`), never the OS.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many times this instance started before this start (0 the
    /// first time, 1 after a kill and its heal or a restart, ...): mix it
    /// into the seed for a fresh stream after a restart.
    pub fn restarts(&self) -> u64 {
        self.start
    }

    /// The port to listen on (80 in the simulator).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The network this start runs on.
    pub fn net(&self) -> Net {
        self.net
    }

    /// The services this one calls, as the scenario's `calls` say, each with
    /// its instances' authorities (`ledger` -> `ledger-1:80`, `ledger-2:80`).
    pub fn dependencies(&self) -> &IndexMap<String, Vec<String>> {
        &self.dependencies
    }

    /// The authorities of `service`'s instances (empty when it calls no such
    /// service).
    pub fn replicas(&self, service: &str) -> &[String] {
        self.dependencies.get(service).map_or(&[], Vec::as_slice)
    }

    /// Binds `0.0.0.0:{port}` on this start's network: what `axum::serve`
    /// takes.
    pub async fn listener(&self) -> std::io::Result<Listener> {
        Listener::bind(
            self.net,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, self.port)),
        )
        .await
    }

    /// A connector on this start's network that knows the topology's names
    /// (`fraud:80` is one of fraud's instances, in turn).
    pub fn connector(&self) -> Connector {
        Connector::with_names(self.net, Arc::clone(&self.names))
    }

    /// A hyper-util client over [`Context::connector`], set up for replay
    /// ([`Connector::client`]).
    pub fn client<B>(&self) -> Client<Connector, B>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
    {
        self.connector().client()
    }

    /// squall's server layer for this instance: spans, request counts,
    /// `error` faults and, on Docker, squall's admin endpoints ([`super::layer`]). A service that calls this declares
    /// that it uses it.
    pub fn layer(&self) -> ServerLayer {
        self.layered.store(true, Ordering::Relaxed);
        match &self.tap {
            Some(tap) => ServerLayer::tapped(tap.clone()),
            None => ServerLayer::pass_through(),
        }
    }

    /// squall's client layer: wrap the client the handlers call downstream
    /// with (`tower::ServiceBuilder::new().layer(ctx.client_layer()).service(client)`).
    pub fn client_layer(&self) -> ClientLayer {
        ClientLayer::new(Arc::clone(&self.names))
    }
}

/// `3` for `fraud-3`; 1 when the name has no replica suffix.
pub(crate) fn replica_of(instance: &str) -> u32 {
    instance
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replica_index_is_the_instance_suffix() {
        assert_eq!(replica_of("card-api-3"), 3);
        assert_eq!(replica_of("gateway"), 1);
    }

    #[test]
    fn a_docker_instance_is_told_who_it_is_by_its_config() {
        let ctx = Context::from_config_json(
            r#"{"service":"card-api","instance":"card-api-2","port":8080,"seed":42,
                "upstreams":{"ledger":["10.213.0.5:8080","10.213.0.6:8080"]}}"#,
        )
        .expect("a config");
        assert_eq!(
            (
                ctx.service(),
                ctx.instance(),
                ctx.replica(),
                ctx.port(),
                ctx.seed()
            ),
            ("card-api", "card-api-2", 2, 8080, 42)
        );
        assert_eq!(ctx.net(), Net::Tokio);
        assert_eq!(
            ctx.replicas("ledger"),
            ["10.213.0.5:8080", "10.213.0.6:8080"]
        );
        assert!(ctx.tap.is_some(), "its layer records, as in the simulator");
    }

    #[test]
    fn a_config_that_is_not_one_says_what_is_wrong() {
        let e = Context::from_config_json(r#"{"service":"x"}"#).expect_err("no instance");
        assert!(
            e.to_string().starts_with("$SQUALL_FIXTURE_CONFIG: ")
                && e.to_string().contains("instance"),
            "{e}"
        );
    }
}
