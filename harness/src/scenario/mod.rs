//! Scenario files: a topology, the load offered to it, the faults to inject and the
//! invariants that must hold, read from TOML into a validated [`Scenario`].
//!
//! Reach for this module to turn a file into something the engine can run; every
//! later stage trusts what [`load`] and [`parse`] return. Reading happens in two
//! stages, as ripgrep does with its arguments: serde fills structs that mirror the
//! file (`raw`), refusing unknown keys and wrong types, then `validate` checks what
//! serde cannot (names that must exist, times that must fit in the run) and builds the
//! model. Each problem comes back as a [`ScenarioError`] naming file, line and column.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//! use squall::scenario::{parse, Target, FaultKind};
//!
//! let text = r#"
//! duration = "30s"
//!
//! [workload]
//! target = "api"
//! path = "/get"
//! rate = 100
//! deadline = "200ms"
//!
//! [services.api.endpoints."/get"]
//! calls = [{ to = "db", path = "/read", timeout = "50ms" }]
//!
//! [services.db]
//! replicas = 3
//! [services.db.endpoints."/read"]
//! work = { p50 = "2ms", p99 = "20ms" }
//!
//! [[faults]]
//! kind = "kill"
//! target = "db-2"
//! at = "10s"
//! for = "5s"
//! "#;
//! let scenario = parse(text, Path::new("scenarios/read.toml")).unwrap();
//! assert_eq!(scenario.name, "read");
//! assert_eq!(scenario.faults[0].until, Some(Duration::from_secs(15)));
//! let FaultKind::Kill { target } = &scenario.faults[0].kind else { panic!() };
//! assert_eq!(*target, Target::Instance { service: "db".into(), index: 2 });
//!
//! let error = parse(&text.replace("\"30s\"", "\"30\""), Path::new("t.toml")).unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "t.toml:2:12: expected a duration with a unit, like \"150ms\" or \"2s\"\n  \
//!      (hint: `30` has no unit; write \"30ms\" or \"30s\")"
//! );
//! ```

pub mod compose;
mod duration;
mod error;
mod explore;
pub mod gameday;
pub mod limits;
mod model;
mod raw;
mod validate;

use std::path::Path;

pub use duration::{format_duration, parse_duration, DurationError};
pub use error::ScenarioError;
pub use explore::{ExploreConfig, ExploreKind, ExploreTarget, MAX_FAULTS};
pub use limits::{MAX_RATE, MAX_REPLICAS, MAX_RETRIES};
pub use model::{
    Arrival, Balancer, Breaker, Call, ComposeFile, DockerConfig, Endpoint, Expect, Fault,
    FaultKind, Invariant, InvariantId, InvariantKind, LinkScope, Scenario, Service, ServiceDocker,
    SimConfig, Target, Window, Work, Workload,
};

/// Reads and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(&read(path)?, path)
}

/// The text of the scenario file at `path`, or an error that names it.
pub fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        line: 0,
        col: 0,
        message: format!("cannot read scenario file: {e}"),
        hint: None,
    })
}

/// Validates scenario `text`; `path` names it in errors and gives the default name.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario =
        toml::from_str(text).map_err(|e| error::from_toml(&e, text).into_error(text, path))?;
    let compose = match raw.docker.as_ref().and_then(|d| d.compose.as_ref()) {
        Some(key) => Some(read_compose(key, text, path)?),
        None => None,
    };
    validate::scenario(raw, text, path, compose).map_err(|diag| diag.into_error(text, path))
}

/// The compose file `[docker] compose` names (relative to the scenario's
/// directory), read and checked: its errors name the compose file.
fn read_compose(
    key: &serde_spanned::Spanned<String>,
    text: &str,
    path: &Path,
) -> Result<(ComposeFile, Vec<compose::ComposeService>), ScenarioError> {
    let (line, col) = error::line_col(text, key.span().start);
    let at = |message: String, hint: Option<String>| ScenarioError {
        path: path.to_path_buf(),
        line,
        col,
        message,
        hint,
    };
    if key.get_ref().trim().is_empty() {
        return Err(at(
            "`compose` is empty".into(),
            Some("name a compose file, like `compose = \"docker-compose.yml\"`".into()),
        ));
    }
    let file = path.parent().unwrap_or(Path::new("")).join(key.get_ref());
    if !file.is_file() {
        return Err(at(
            format!("compose file `{}` not found", file.display()),
            Some("the path is relative to the scenario file's directory".into()),
        ));
    }
    let services = compose::load(&file)?;
    Ok((
        ComposeFile {
            path: file,
            line,
            col,
        },
        services,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn instance(service: &str, index: u32) -> Target {
        Target::Instance {
            service: service.into(),
            index,
        }
    }

    /// The full example of the scenario format (docs/scenarios.md and
    /// scenarios/card-auth.toml), with the endpoints it calls but does not declare, and
    /// with `breaker` and `propagate_deadline`.
    const CARD_AUTH: &str = r#"
name = "card-auth"
description = "Authorise within the processor's 200 ms while a ledger dies and a fraud replica turns slow."
duration = "60s"
seed = 1
expect = "pass"

[sim]
tick = "1ms"
latency = { min = "0ms", max = "1ms" }

[workload]
target = "gateway"
path = "/authorise"
rate = 500
arrival = "constant"
deadline = "200ms"
warmup = "2s"

[services.gateway]
replicas = 2

[services.gateway.endpoints."/authorise"]
work = "1ms"
calls = [ { to = "card-api", path = "/authorise", timeout = "150ms" } ]

[services.card-api]
replicas = 2
balancer = "p2c-ewma"

[services.card-api.endpoints."/authorise"]
work = { p50 = "2ms", p99 = "8ms" }
calls = [
  { to = "ledger", path = "/reserve", timeout = "30ms", retries = 1, backoff = "5ms", hedge = "10ms" },
  { to = "fraud", path = "/score", timeout = "30ms", required = false, group = 1 },
  { to = "merchant", path = "/enrich", timeout = "20ms", required = false, group = 1 },
]

[services.ledger]
replicas = 3
[services.ledger.endpoints."/reserve"]
work = { mean = "3ms" }
error_rate = 0.001

[services.fraud]
replicas = 2
[services.fraud.endpoints."/score"]
work = "2ms"

[services.merchant.endpoints."/enrich"]
work = "1ms"

[[faults]]
kind = "kill"
target = "ledger-1"
at = "10s"
for = "20s"

[[faults]]
kind = "latency"
target = "fraud-2"
delay = "150ms"
jitter = "20ms"
at = "15s"
for = "10s"

[[faults]]
kind = "partition"
between = [["card-api"], ["merchant"]]
at = "30s"
for = "10s"

[[invariants]]
kind = "answered"
max_ratio = 0.0

[[invariants]]
kind = "latency"
percentile = 99.0
max = "100ms"
during = "faults"

[[invariants]]
kind = "success"
min = 0.999
degraded = "success"

[[invariants]]
kind = "recovery"
within = "5s"

[[invariants]]
kind = "amplification"
service = "ledger"
max = 1.5

[explore]
kinds = ["kill", "latency", "partition", "pause"]
targets = ["ledger", "fraud", "merchant"]
max_faults = 3
max_concurrent = 2

[docker]
image = "squall-fixture:latest"
[services.ledger.docker]
image = "acme/ledger:1.4"
port = 8080
"#;

    #[test]
    fn design_example_parses() {
        let s = parse(CARD_AUTH, Path::new("scenarios/card-auth.toml")).unwrap();
        assert_eq!(s.name, "card-auth");
        assert!(s.description.starts_with("Authorise within"));
        assert_eq!(s.path, Path::new("scenarios/card-auth.toml"));
        assert_eq!((s.duration, s.seed, s.expect), (secs(60), 1, Expect::Pass));
        assert_eq!(
            s.sim,
            SimConfig {
                tick: ms(1),
                latency_min: ms(0),
                latency_max: ms(1)
            }
        );
        assert_eq!(
            s.workload,
            Workload {
                target: "gateway".into(),
                path: "/authorise".into(),
                rate: 500.0,
                arrival: Arrival::Constant,
                deadline: ms(200),
                warmup: secs(2),
            }
        );

        let names: Vec<&str> = s.services.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["gateway", "card-api", "ledger", "fraud", "merchant"]
        );
        let gateway = &s.services["gateway"];
        assert_eq!(
            (gateway.replicas, gateway.balancer),
            (2, Balancer::RoundRobin)
        );
        assert_eq!(gateway.endpoints["/authorise"].work, Work::Fixed(ms(1)));
        let card_api = &s.services["card-api"];
        assert_eq!(
            (
                card_api.replicas,
                card_api.balancer,
                card_api.concurrency_limit
            ),
            (2, Balancer::P2cEwma, None)
        );
        let authorise = &card_api.endpoints["/authorise"];
        assert_eq!(
            authorise.work,
            Work::Percentiles {
                p50: ms(2),
                p99: ms(8)
            }
        );
        assert_eq!(authorise.error_rate, 0.0);
        assert_eq!(
            authorise.calls[0],
            Call {
                to: "ledger".into(),
                path: "/reserve".into(),
                timeout: Some(ms(30)),
                retries: 1,
                backoff: ms(5),
                required: true,
                group: 0,
                hedge: Some(ms(10)),
                retry_budget: None,
            }
        );
        let fraud_call = &authorise.calls[1];
        assert_eq!(
            (
                fraud_call.to.as_str(),
                fraud_call.required,
                fraud_call.group
            ),
            ("fraud", false, 1)
        );
        assert_eq!(authorise.calls[2].timeout, Some(ms(20)));
        let reserve = &s.services["ledger"].endpoints["/reserve"];
        assert_eq!(
            (reserve.work, reserve.error_rate),
            (Work::Mean(ms(3)), 0.001)
        );
        assert_eq!(s.services["merchant"].replicas, 1);

        assert_eq!(
            s.faults,
            vec![
                Fault {
                    kind: FaultKind::Kill {
                        target: instance("ledger", 1)
                    },
                    at: secs(10),
                    until: Some(secs(30)),
                    line: 54,
                    col: 8,
                },
                Fault {
                    kind: FaultKind::Latency {
                        scope: LinkScope::Instance(instance("fraud", 2)),
                        delay: ms(150),
                        jitter: ms(20),
                    },
                    at: secs(15),
                    until: Some(secs(25)),
                    line: 60,
                    col: 8,
                },
                Fault {
                    kind: FaultKind::Partition {
                        sides: (
                            vec![Target::Service("card-api".into())],
                            vec![Target::Service("merchant".into())]
                        ),
                        one_way: false,
                    },
                    at: secs(30),
                    until: Some(secs(40)),
                    line: 68,
                    col: 8,
                },
            ]
        );

        let kinds: Vec<&InvariantKind> = s.invariants.iter().map(|i| &i.kind).collect();
        assert_eq!(
            kinds,
            [
                &InvariantKind::Answered { max_ratio: 0.0 },
                &InvariantKind::Latency {
                    percentile: 99.0,
                    max: ms(100),
                    during: Window::Faults
                },
                &InvariantKind::Success {
                    min: 0.999,
                    degraded_is_success: true,
                    during: Window::All
                },
                &InvariantKind::Recovery { within: secs(5) },
                &InvariantKind::Amplification {
                    service: "ledger".into(),
                    max: 1.5
                },
            ]
        );
        assert_eq!(s.invariants[0].line, 74);

        let explore = s.explore.as_ref().unwrap();
        assert_eq!(
            explore.kinds,
            [
                ExploreKind::Latency,
                ExploreKind::Pause,
                ExploreKind::Kill,
                ExploreKind::Partition
            ]
        );
        assert_eq!((explore.max_faults, explore.max_concurrent), (3, 2));
        assert_eq!(s.docker.image.as_deref(), Some("squall-fixture:latest"));
        let ledger = &s.services["ledger"].docker;
        assert_eq!(ledger.image.as_deref(), Some("acme/ledger:1.4"));
        assert_eq!(ledger.port, Some(8080));
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let text = "duration = \"10s\"\n\
                    [workload]\ntarget = \"a\"\npath = \"/\"\nrate = 1\ndeadline = \"1s\"\n\
                    [services.a.endpoints.\"/\"]\n";
        let s = parse(text, Path::new("dir/minimal.toml")).unwrap();
        assert_eq!((s.name.as_str(), s.description.as_str()), ("minimal", ""));
        assert_eq!(
            (s.seed, s.expect, s.sim),
            (1, Expect::Pass, SimConfig::default())
        );
        assert_eq!(
            (s.workload.arrival, s.workload.warmup),
            (Arrival::Constant, Duration::ZERO)
        );
        let a = &s.services["a"];
        assert_eq!(
            (a.replicas, a.balancer, a.concurrency_limit),
            (1, Balancer::RoundRobin, None)
        );
        assert_eq!(
            a.endpoints["/"],
            Endpoint {
                work: Work::Fixed(Duration::ZERO),
                error_rate: 0.0,
                calls: vec![]
            }
        );
        assert!(
            s.faults.is_empty()
                && s.invariants.is_empty()
                && s.explore.is_none()
                && s.docker == DockerConfig::default()
        );
    }

    #[test]
    fn targets_display_as_written() {
        for text in ["ledger", "ledger-2", "ledger:1"] {
            let scenario = format!(
                "duration = \"10s\"\n[workload]\ntarget = \"ledger\"\npath = \"/\"\nrate = 1\ndeadline = \"1s\"\n\
                 [services.ledger]\nreplicas = 3\n[services.ledger.endpoints.\"/\"]\n\
                 [[faults]]\nkind = \"pause\"\ntarget = \"{text}\"\nat = \"1s\"\n"
            );
            let s = parse(&scenario, Path::new("t.toml")).unwrap();
            let FaultKind::Pause { target } = &s.faults[0].kind else {
                panic!("{:?}", s.faults[0])
            };
            assert_eq!(
                (target.to_string(), target.service()),
                (text.to_string(), "ledger")
            );
        }
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let error = load(Path::new("/nonexistent/squall/x.toml")).unwrap_err();
        assert_eq!((error.line, error.col), (0, 0));
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/squall/x.toml: cannot read scenario file: "),
            "{error}"
        );
    }
}
