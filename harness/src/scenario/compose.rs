//! `[docker] compose = "docker-compose.yml"`: a compose file's services as the
//! topology, read by squall itself (no compose CLI).
//!
//! squall reads the keys it can honour on its own network and refuses every
//! other one at its line and column, so that nothing in the file is silently
//! ignored: `image`, `command`, `entrypoint`, `environment` (list or map),
//! `ports` and `expose` (the container port: squall calls the service there),
//! `healthcheck` (`test`, `interval`, `timeout`, `retries`, `start_period`,
//! `disable`), `depends_on` (a list, or `condition: service_started` or
//! `service_healthy` per service; the order squall starts them in,
//! [`start_waves`]) and `deploy.replicas`. At the top level, `services` and
//! the obsolete `version` (which compose ignores too).
//!
//! ```
//! # use std::path::Path;
//! let services = squall::scenario::compose::parse(
//!     "services:\n  ledger:\n    image: acme/ledger:1.4\n    ports: [\"8080\"]\n",
//!     Path::new("compose.yml"),
//! )
//! .unwrap();
//! assert_eq!(services[0].port, Some(8080));
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoaderOptions, Node, Span};

use super::ScenarioError;

/// Service keys squall reads, in the order the hint lists them.
const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "expose",
    "healthcheck",
    "depends_on",
    "deploy",
];
const HEALTHCHECK_KEYS: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "disable",
];
/// Most replicas one compose service may ask for (as `[services.X] replicas`).
const MAX_REPLICAS: u32 = super::MAX_REPLICAS;

/// One service of a compose file, as squall runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeService {
    pub name: String,
    pub image: String,
    /// `command`: the image's `CMD` replaced; a string is split on white space.
    pub command: Option<Vec<String>>,
    /// `entrypoint`: the image's `ENTRYPOINT` replaced.
    pub entrypoint: Option<Vec<String>>,
    /// `environment` as `KEY=value` pairs, in file order.
    pub environment: Vec<String>,
    /// The first container port of `ports` (or `expose`): where squall and
    /// the other services call it.
    pub port: Option<u16>,
    pub healthcheck: Option<Healthcheck>,
    /// `depends_on`, in file order.
    pub depends_on: Vec<Dependency>,
    /// `deploy.replicas`.
    pub replicas: Option<u32>,
    /// Where it is declared: `compose.yml:3`.
    pub at: String,
}

/// One `depends_on` entry: `service` is started before the one that names
/// it, and with `healthy` (compose's `condition: service_healthy`) is ready
/// (healthy, answering, or running: as squall waits for any instance) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub service: String,
    pub healthy: bool,
    /// Line and column of the name in the compose file, for errors.
    pub at: (usize, usize),
}

/// `healthcheck`: how the engine decides the container is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]` (a string is `CMD-SHELL`).
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
}

impl Healthcheck {
    /// How long the checks may take to call the container healthy before squall
    /// gives up: the start period plus every retry at its interval and timeout
    /// (Docker's defaults: 30 s, 30 s, 3 retries), plus a second.
    pub fn patience(&self) -> Duration {
        let interval = self.interval.unwrap_or(Duration::from_secs(30));
        let timeout = self.timeout.unwrap_or(Duration::from_secs(30));
        let retries = self.retries.unwrap_or(3).max(1);
        self.start_period.unwrap_or_default()
            + (interval + timeout) * retries
            + Duration::from_secs(1)
    }
}

/// Reads and checks the compose file at `path`.
pub fn load(path: &Path) -> Result<Vec<ComposeService>, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        line: 0,
        col: 0,
        message: format!("cannot read compose file: {e}"),
        hint: None,
    })?;
    parse(&text, path)
}

/// Checks compose `text`; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<ComposeService>, ScenarioError> {
    let reader = Reader {
        path: path.to_path_buf(),
    };
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    let root = marked_yaml::parse_yaml_with_options(0, text, options)
        .map_err(|e| reader.load_error(&e))?;
    let root = reader.mapping(&root, "the compose file")?;
    let mut services = None;
    for (key, value) in root.iter() {
        match key.as_str() {
            "services" => services = Some(value),
            "version" => {}
            other => {
                return Err(reader.at(
                    key.span(),
                    format!("unsupported compose key `{other}`"),
                    Some(top_hint(other)),
                ))
            }
        }
    }
    let Some(services) = services else {
        return Err(reader.at(
            root.span(),
            "the compose file has no `services`".to_owned(),
            None,
        ));
    };
    let services = reader.mapping(services, "`services`")?;
    if services.is_empty() {
        return Err(reader.at(services.span(), "`services` is empty".to_owned(), None));
    }
    let services = services
        .iter()
        .map(|(name, body)| reader.service(name, body))
        .collect::<Result<Vec<_>, _>>()?;
    reader.check_dependencies(&services)?;
    Ok(services)
}

/// The wave each service starts in: 0 without `depends_on`, else one more
/// than the latest of its dependencies. squall starts wave by wave, and waits
/// for a `service_healthy` dependency to be ready before the wave that needs
/// it. Services not in the file (the scenario's own) start in wave 0.
pub fn start_waves(services: &[ComposeService]) -> std::collections::BTreeMap<String, usize> {
    fn wave(
        name: &str,
        services: &[ComposeService],
        waves: &mut std::collections::BTreeMap<String, usize>,
    ) -> usize {
        if let Some(w) = waves.get(name) {
            return *w;
        }
        let deps = services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default();
        // `parse` refused cycles, so this recursion ends.
        let w = deps
            .iter()
            .map(|d| wave(&d.service, services, waves) + 1)
            .max()
            .unwrap_or(0);
        waves.insert(name.to_owned(), w);
        w
    }
    let mut waves = std::collections::BTreeMap::new();
    for s in services {
        wave(&s.name, services, &mut waves);
    }
    waves
}

fn top_hint(key: &str) -> String {
    match key {
        "networks" => "squall runs every service on a network of its own, with the service and instance names as DNS names; leave `networks` out".to_owned(),
        "volumes" | "configs" | "secrets" => format!("squall mounts nothing; bake what `{key}` provides into the image"),
        _ => "a compose file for squall has `services` (and, ignored as by compose, `version`)".to_owned(),
    }
}

struct Reader {
    path: PathBuf,
}

impl Reader {
    fn at(&self, span: &Span, message: String, hint: Option<String>) -> ScenarioError {
        let (line, col) = span
            .start()
            .map_or((1, 1), |m| (m.line().max(1), m.column().max(1)));
        ScenarioError {
            path: self.path.clone(),
            line,
            col,
            message,
            hint,
        }
    }

    fn load_error(&self, e: &marked_yaml::LoadError) -> ScenarioError {
        use marked_yaml::LoadError as E;
        let (marker, message) = match e {
            E::TopLevelMustBeMapping(m) => (
                Some(*m),
                "the compose file must be a mapping with `services`".to_owned(),
            ),
            E::UnexpectedAnchor(m) => (
                Some(*m),
                "YAML anchors and aliases are not supported in compose files for squall".to_owned(),
            ),
            E::UnexpectedTag(m) => (
                Some(*m),
                "YAML tags are not supported in compose files for squall".to_owned(),
            ),
            E::MappingKeyMustBeScalar(m) => {
                (Some(*m), "mapping keys must be plain values".to_owned())
            }
            E::ScanError(m, scan) => (Some(*m), format!("invalid YAML: {}", scan.info())),
            E::DuplicateKey(inner) => (
                inner.key.span().start().copied(),
                format!("duplicate key `{}`", inner.key.as_str()),
            ),
            other => (None, other.to_string()),
        };
        let span = marker.map_or_else(Span::new_blank, Span::new_start);
        self.at(&span, message, None)
    }

    fn mapping<'n>(
        &self,
        node: &'n Node,
        what: &str,
    ) -> Result<&'n MarkedMappingNode, ScenarioError> {
        node.as_mapping()
            .ok_or_else(|| self.at(node.span(), format!("{what} must be a mapping"), None))
    }

    fn scalar<'n>(&self, node: &'n Node, key: &str) -> Result<&'n MarkedScalarNode, ScenarioError> {
        node.as_scalar()
            .ok_or_else(|| self.at(node.span(), format!("`{key}` must be a single value"), None))
    }

    fn service(
        &self,
        name: &MarkedScalarNode,
        body: &Node,
    ) -> Result<ComposeService, ScenarioError> {
        let what = format!("service `{}`", name.as_str());
        let body = self.mapping(body, &what)?;
        let at_line = name.span().start().map_or(1, |m| m.line());
        let mut service = ComposeService {
            name: name.as_str().to_owned(),
            image: String::new(),
            command: None,
            entrypoint: None,
            environment: Vec::new(),
            port: None,
            healthcheck: None,
            depends_on: Vec::new(),
            replicas: None,
            at: format!("{}:{at_line}", self.path.display()),
        };
        let mut expose = None;
        for (key, value) in body.iter() {
            match key.as_str() {
                "image" => {
                    let image = self.scalar(value, "image")?;
                    if image.is_empty() || image.chars().any(char::is_whitespace) {
                        return Err(self.at(
                            image.span(),
                            format!("`image` must be an image reference like \"acme/ledger:1.4\", found {:?}", image.as_str()),
                            None,
                        ));
                    }
                    service.image = image.as_str().to_owned();
                }
                "command" => service.command = Some(self.words(value, "command")?),
                "entrypoint" => service.entrypoint = Some(self.words(value, "entrypoint")?),
                "environment" => service.environment = self.environment(value)?,
                "ports" => service.port = Some(self.port(value, "ports")?),
                "expose" => expose = Some(self.port(value, "expose")?),
                "healthcheck" => service.healthcheck = self.healthcheck(value)?,
                "deploy" => service.replicas = self.deploy(value)?,
                "depends_on" => service.depends_on = self.depends_on(value)?,
                other => {
                    let hint = match other {
                        "build" => "squall uses no builder: build the image first (`docker build -t NAME .`) and name it in `image`".to_owned(),
                        "container_name" => "squall names containers `squall-<run>-<instance>`; the service and instance names are DNS names on its network".to_owned(),
                        "networks" | "network_mode" => "squall runs every service on a network of its own; leave it out".to_owned(),
                        _ => format!(
                            "squall reads {}",
                            SERVICE_KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(self.at(
                        key.span(),
                        format!("unsupported compose key `{other}` in {what}"),
                        Some(hint),
                    ));
                }
            }
        }
        if service.image.is_empty() {
            return Err(self.at(
                name.span(),
                format!("{what} has no `image`"),
                Some("squall runs images already on the engine; name one with `image:`".to_owned()),
            ));
        }
        service.port = service.port.or(expose);
        Ok(service)
    }

    /// A command: a list of words, or a string split on white space.
    fn words(&self, node: &Node, key: &str) -> Result<Vec<String>, ScenarioError> {
        match node {
            Node::Scalar(s) => Ok(s.split_whitespace().map(str::to_owned).collect()),
            Node::Sequence(items) => items
                .iter()
                .map(|i| self.scalar(i, key).map(|s| s.as_str().to_owned()))
                .collect(),
            Node::Mapping(m) => Err(self.at(
                m.span(),
                format!("`{key}` must be a string or a list"),
                None,
            )),
        }
    }

    fn environment(&self, node: &Node) -> Result<Vec<String>, ScenarioError> {
        match node {
            Node::Sequence(items) => items
                .iter()
                .map(|i| {
                    let pair = self.scalar(i, "environment")?;
                    if !pair.contains('=') {
                        return Err(self.at(
                            pair.span(),
                            format!("`{}` has no value", pair.as_str()),
                            Some("squall passes no variables from its own environment; write `KEY=value`".to_owned()),
                        ));
                    }
                    Ok(pair.as_str().to_owned())
                })
                .collect(),
            Node::Mapping(map) => map
                .iter()
                .map(|(k, v)| {
                    // `KEY:` alone (null) means "from the shell" to compose.
                    let value = v.as_scalar().filter(|s| !matches!(s.as_str(), "" | "~" | "null"));
                    match value {
                        Some(value) => Ok(format!("{}={}", k.as_str(), value.as_str())),
                        None => Err(self.at(
                            k.span(),
                            format!("`{}` has no value", k.as_str()),
                            Some("squall passes no variables from its own environment; write `KEY: value`".to_owned()),
                        )),
                    }
                })
                .collect(),
            Node::Scalar(s) => Err(self.at(s.span(), "`environment` must be a list or a mapping".to_owned(), None)),
        }
    }

    /// The first container port of `ports` or `expose`.
    fn port(&self, node: &Node, key: &str) -> Result<u16, ScenarioError> {
        let items = node
            .as_sequence()
            .ok_or_else(|| self.at(node.span(), format!("`{key}` must be a list"), None))?;
        let Some(first) = items.first() else {
            return Err(self.at(items.span(), format!("`{key}` is empty"), None));
        };
        let (text, span) = match first {
            Node::Scalar(s) => (container_port(s.as_str()), s.span()),
            Node::Mapping(m) => {
                for (k, _) in m.iter() {
                    if !matches!(
                        k.as_str(),
                        "target"
                            | "published"
                            | "protocol"
                            | "host_ip"
                            | "mode"
                            | "name"
                            | "app_protocol"
                    ) {
                        return Err(self.at(
                            k.span(),
                            format!("unsupported compose key `{k}` in `{key}`", k = k.as_str()),
                            None,
                        ));
                    }
                }
                let target = m.get_scalar("target").ok_or_else(|| {
                    self.at(m.span(), format!("`{key}` entry has no `target`"), None)
                })?;
                (target.as_str().to_owned(), target.span())
            }
            Node::Sequence(s) => {
                return Err(self.at(s.span(), format!("`{key}` entries must be ports"), None))
            }
        };
        match text.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(self.at(
                span,
                format!("`{key}`: cannot read a container port in {text:?}"),
                Some("like `\"8080\"`, `\"80:8080\"` or `\"8080/tcp\"`".to_owned()),
            )),
        }
    }

    fn healthcheck(&self, node: &Node) -> Result<Option<Healthcheck>, ScenarioError> {
        let map = self.mapping(node, "`healthcheck`")?;
        let mut check = Healthcheck {
            test: Vec::new(),
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        };
        let mut disabled = false;
        for (key, value) in map.iter() {
            match key.as_str() {
                "test" => {
                    check.test = match value {
                        Node::Scalar(s) => vec!["CMD-SHELL".to_owned(), s.as_str().to_owned()],
                        _ => self.words(value, "test")?,
                    };
                    if check.test.first().is_some_and(|t| t == "NONE") {
                        disabled = true;
                    } else if !matches!(
                        check.test.first().map(String::as_str),
                        Some("CMD" | "CMD-SHELL")
                    ) || check.test.len() < 2
                    {
                        return Err(self.at(value.span(), "`test` must be `[\"CMD\", ...]`, `[\"CMD-SHELL\", \"...\"]` or a string".to_owned(), None));
                    }
                }
                "interval" | "timeout" | "start_period" => {
                    let text = self.scalar(value, key.as_str())?;
                    let d = compose_duration(text.as_str()).ok_or_else(|| {
                        self.at(
                            text.span(),
                            format!(
                                "`{}`: cannot read a duration in {:?}",
                                key.as_str(),
                                text.as_str()
                            ),
                            Some("like `\"10s\"`, `\"500ms\"` or `\"1m30s\"`".to_owned()),
                        )
                    })?;
                    match key.as_str() {
                        "interval" => check.interval = Some(d),
                        "timeout" => check.timeout = Some(d),
                        _ => check.start_period = Some(d),
                    }
                }
                "retries" => {
                    let n = self.scalar(value, "retries")?;
                    check.retries = Some(n.as_u32().ok_or_else(|| {
                        self.at(
                            n.span(),
                            format!("`retries` must be a whole number, found {:?}", n.as_str()),
                            None,
                        )
                    })?);
                }
                "disable" => disabled = self.scalar(value, "disable")?.as_bool() == Some(true),
                other => {
                    let listed: Vec<String> =
                        HEALTHCHECK_KEYS.iter().map(|k| format!("`{k}`")).collect();
                    return Err(self.at(
                        key.span(),
                        format!("unsupported compose key `{other}` in `healthcheck`"),
                        Some(format!("squall reads {}", listed.join(", "))),
                    ));
                }
            }
        }
        if disabled {
            return Ok(None);
        }
        if check.test.is_empty() {
            return Err(self.at(map.span(), "`healthcheck` has no `test`".to_owned(), None));
        }
        Ok(Some(check))
    }

    /// `depends_on`: `[a, b]`, or `{a: {condition: service_healthy}}`.
    fn depends_on(&self, node: &Node) -> Result<Vec<Dependency>, ScenarioError> {
        let position = |s: &MarkedScalarNode| {
            s.span()
                .start()
                .map_or((1, 1), |m| (m.line().max(1), m.column().max(1)))
        };
        match node {
            Node::Sequence(items) => items
                .iter()
                .map(|i| {
                    let name = self.scalar(i, "depends_on")?;
                    Ok(Dependency {
                        service: name.as_str().to_owned(),
                        healthy: false,
                        at: position(name),
                    })
                })
                .collect(),
            Node::Mapping(map) => map
                .iter()
                .map(|(name, body)| {
                    let mut healthy = false;
                    for (key, value) in self.mapping(body, "a `depends_on` entry")?.iter() {
                        if key.as_str() != "condition" {
                            return Err(self.at(
                                key.span(),
                                format!("unsupported compose key `{}` in `depends_on`", key.as_str()),
                                Some("squall reads `condition` only".to_owned()),
                            ));
                        }
                        let condition = self.scalar(value, "condition")?;
                        healthy = match condition.as_str() {
                            "service_started" => false,
                            "service_healthy" => true,
                            other => return Err(self.at(
                                condition.span(),
                                format!("unsupported `condition: {other}`"),
                                Some("squall runs long-lived services: `service_started` or `service_healthy`".to_owned()),
                            )),
                        };
                    }
                    Ok(Dependency {
                        service: name.as_str().to_owned(),
                        healthy,
                        at: position(name),
                    })
                })
                .collect(),
            Node::Scalar(s) => Err(self.at(
                s.span(),
                "`depends_on` must be a list or a mapping".to_owned(),
                None,
            )),
        }
    }

    /// Every `depends_on` names another service of the file, and none
    /// depends on itself through others.
    fn check_dependencies(&self, services: &[ComposeService]) -> Result<(), ScenarioError> {
        let error = |d: &Dependency, message: String, hint: Option<String>| ScenarioError {
            path: self.path.clone(),
            line: d.at.0,
            col: d.at.1,
            message,
            hint,
        };
        for s in services {
            for d in &s.depends_on {
                if !services.iter().any(|o| o.name == d.service) {
                    let names: Vec<&str> = services.iter().map(|o| o.name.as_str()).collect();
                    return Err(error(
                        d,
                        format!(
                            "service `{}` depends on `{}`, which the file does not have",
                            s.name, d.service
                        ),
                        Some(format!("services here: {}", names.join(", "))),
                    ));
                }
            }
        }
        // Depth-first from each service; a name met again on the current
        // path closes a cycle.
        fn visit<'a>(
            name: &'a str,
            services: &'a [ComposeService],
            path: &mut Vec<&'a str>,
            done: &mut std::collections::BTreeSet<&'a str>,
        ) -> Option<(Vec<&'a str>, &'a Dependency)> {
            let service = services.iter().find(|s| s.name == name)?;
            path.push(name);
            for d in &service.depends_on {
                if let Some(start) = path.iter().position(|p| *p == d.service) {
                    let mut cycle = path[start..].to_vec();
                    cycle.push(&d.service);
                    return Some((cycle, d));
                }
                if !done.contains(d.service.as_str()) {
                    if let Some(found) = visit(&d.service, services, path, done) {
                        return Some(found);
                    }
                }
            }
            path.pop();
            done.insert(name);
            None
        }
        let mut done = std::collections::BTreeSet::new();
        for s in services {
            if let Some((cycle, d)) = visit(&s.name, services, &mut Vec::new(), &mut done) {
                return Err(error(
                    d,
                    format!(
                        "`depends_on` goes round in a circle: {}",
                        cycle.join(" -> ")
                    ),
                    None,
                ));
            }
        }
        Ok(())
    }

    fn deploy(&self, node: &Node) -> Result<Option<u32>, ScenarioError> {
        let map = self.mapping(node, "`deploy`")?;
        let mut replicas = None;
        for (key, value) in map.iter() {
            if key.as_str() != "replicas" {
                return Err(self.at(
                    key.span(),
                    format!("unsupported compose key `{}` in `deploy`", key.as_str()),
                    Some("squall reads `deploy.replicas` only".to_owned()),
                ));
            }
            let n = self.scalar(value, "replicas")?;
            match n.as_u32() {
                Some(r) if (1..=MAX_REPLICAS).contains(&r) => replicas = Some(r),
                _ => {
                    return Err(self.at(
                        n.span(),
                        format!(
                            "`replicas` must be between 1 and {MAX_REPLICAS}, found {}",
                            n.as_str()
                        ),
                        None,
                    ))
                }
            }
        }
        Ok(replicas)
    }
}

/// The container side of a `ports`/`expose` entry: `"8080"`, `"80:8080"`,
/// `"127.0.0.1:80:8080"`, `"8080/tcp"`.
fn container_port(entry: &str) -> String {
    let port = entry.rsplit(':').next().unwrap_or(entry);
    port.split('/').next().unwrap_or(port).trim().to_owned()
}

/// A compose duration: `1m30s`, `10s`, `500ms`, `1h`, `250us`.
pub fn compose_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit..];
        total += Duration::try_from_secs_f64(number * seconds).ok()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text, Path::new("compose.yml"))
            .unwrap_err()
            .to_string()
    }

    const LEDGER: &str = "services:\n  ledger:\n    image: acme/ledger:1.4\n";

    #[test]
    fn every_supported_key_is_read() {
        let text = r#"
version: "3.8"
services:
  ledger:
    image: acme/ledger:1.4
    command: ["serve", "--port", "8080"]
    entrypoint: /bin/ledger
    environment:
      LOG: debug
      MODE: fast
    ports:
      - "18080:8080/tcp"
    healthcheck:
      test: ["CMD", "/bin/ledger", "check"]
      interval: 1s
      timeout: 500ms
      retries: 5
      start_period: 1m30s
    deploy:
      replicas: 3
  cache:
    image: acme/cache
    command: run --fast
    environment: ["A=1", "B=two words"]
    expose: [6379]
    healthcheck:
      test: curl -f http://localhost/
"#;
        let s = parse(text, Path::new("compose.yml")).unwrap();
        assert_eq!(s.len(), 2);
        let ledger = &s[0];
        assert_eq!(ledger.name, "ledger");
        assert_eq!(
            ledger.command.as_deref(),
            Some(&["serve".to_owned(), "--port".into(), "8080".into()][..])
        );
        assert_eq!(
            ledger.entrypoint.as_deref(),
            Some(&["/bin/ledger".to_owned()][..])
        );
        assert_eq!(ledger.environment, vec!["LOG=debug", "MODE=fast"]);
        assert_eq!(ledger.port, Some(8080));
        assert_eq!(ledger.replicas, Some(3));
        assert_eq!(ledger.at, "compose.yml:4");
        let check = ledger.healthcheck.as_ref().unwrap();
        assert_eq!(check.test, vec!["CMD", "/bin/ledger", "check"]);
        assert_eq!(check.interval, Some(Duration::from_secs(1)));
        assert_eq!(check.timeout, Some(Duration::from_millis(500)));
        assert_eq!(check.start_period, Some(Duration::from_secs(90)));
        assert_eq!(check.retries, Some(5));
        let cache = &s[1];
        assert_eq!(
            cache.command.as_deref(),
            Some(&["run".to_owned(), "--fast".into()][..])
        );
        assert_eq!(cache.environment, vec!["A=1", "B=two words"]);
        assert_eq!(cache.port, Some(6379));
        assert_eq!(cache.replicas, None);
        assert_eq!(
            cache.healthcheck.as_ref().unwrap().test,
            vec!["CMD-SHELL", "curl -f http://localhost/"]
        );
    }

    #[test]
    fn unsupported_keys_are_named_at_their_line_and_column() {
        let table: &[(&str, &str)] = &[
            (
                &format!("{LEDGER}    volumes: [\"./data:/data\"]\n"),
                "compose.yml:4:5: unsupported compose key `volumes` in service `ledger`\n  (hint: squall reads `image`, `command`, `entrypoint`, `environment`, `ports`, `expose`, `healthcheck`, `depends_on`, `deploy`)",
            ),
            (
                &format!("{LEDGER}    build: .\n"),
                "compose.yml:4:5: unsupported compose key `build` in service `ledger`\n  (hint: squall uses no builder: build the image first (`docker build -t NAME .`) and name it in `image`)",
            ),
            (
                &format!("{LEDGER}networks:\n  back: {{}}\n"),
                "compose.yml:4:1: unsupported compose key `networks`\n  (hint: squall runs every service on a network of its own, with the service and instance names as DNS names; leave `networks` out)",
            ),
            (
                &format!("{LEDGER}    deploy:\n      resources: {{}}\n"),
                "compose.yml:5:7: unsupported compose key `resources` in `deploy`\n  (hint: squall reads `deploy.replicas` only)",
            ),
            (
                &format!("{LEDGER}    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_interval: 1s\n"),
                "compose.yml:6:7: unsupported compose key `start_interval` in `healthcheck`\n  (hint: squall reads `test`, `interval`, `timeout`, `retries`, `start_period`, `disable`)",
            ),
            (
                "services:\n  ledger:\n    ports: [\"80\"]\n",
                "compose.yml:2:3: service `ledger` has no `image`\n  (hint: squall runs images already on the engine; name one with `image:`)",
            ),
            (
                &format!("{LEDGER}    ports: [\"80:http\"]\n"),
                "compose.yml:4:13: `ports`: cannot read a container port in \"http\"\n  (hint: like `\"8080\"`, `\"80:8080\"` or `\"8080/tcp\"`)",
            ),
            (
                &format!("{LEDGER}    deploy:\n      replicas: 0\n"),
                "compose.yml:5:17: `replicas` must be between 1 and 64, found 0",
            ),
            (
                &format!("{LEDGER}    environment:\n      - TOKEN\n"),
                "compose.yml:5:9: `TOKEN` has no value\n  (hint: squall passes no variables from its own environment; write `KEY=value`)",
            ),
            (
                &format!("{LEDGER}    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: soon\n"),
                "compose.yml:6:17: `interval`: cannot read a duration in \"soon\"\n  (hint: like `\"10s\"`, `\"500ms\"` or `\"1m30s\"`)",
            ),
            ("services: {}\n", "compose.yml:1:11: `services` is empty"),
            ("- a\n", "compose.yml:1:1: the compose file must be a mapping with `services`"),
            (
                &format!("{LEDGER}    image: other\n"),
                "compose.yml:4:5: duplicate key `image`",
            ),
        ];
        for (text, want) in table {
            assert_eq!(&error(text), want, "for:\n{text}");
        }
    }

    #[test]
    fn durations_read_as_compose_writes_them() {
        assert_eq!(compose_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(compose_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(compose_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(compose_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(compose_duration("10"), None);
        assert_eq!(compose_duration(""), None);
    }

    #[test]
    fn patience_covers_every_retry() {
        let check = Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_secs(1)),
            start_period: Some(Duration::from_secs(5)),
            retries: Some(3),
        };
        assert_eq!(check.patience(), Duration::from_secs(12));
    }

    /// A scenario next to its compose file, loaded (or its error).
    fn scenario(toml: &str, compose: &str) -> Result<crate::scenario::Scenario, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, toml).unwrap();
        crate::scenario::load(&path).map_err(|e| {
            e.to_string()
                .replace(&dir.path().display().to_string(), "DIR")
        })
    }

    const HEAD: &str = "duration = \"5s\"\n[docker]\ncompose = \"docker-compose.yml\"\n\
        [workload]\ntarget = \"gateway\"\npath = \"/\"\nrate = 10\ndeadline = \"1s\"\n";
    const GATEWAY: &str = "[services.gateway]\n[services.gateway.endpoints.\"/\"]\n\
        calls = [{ to = \"web\", path = \"/index.html\", timeout = \"100ms\" }]\n";
    const COMPOSE: &str = "services:\n  web:\n    image: acme/web:1\n    ports: [\"8080\"]\n    deploy:\n      replicas: 3\n  cache:\n    image: acme/cache:1\n";

    #[test]
    fn compose_services_join_the_scenario_after_its_own() {
        let s = scenario(&format!("{HEAD}{GATEWAY}"), COMPOSE).unwrap();
        let names: Vec<&str> = s.services.keys().map(String::as_str).collect();
        assert_eq!(names, ["gateway", "web", "cache"]);
        let web = &s.services["web"];
        assert_eq!(web.replicas, 3);
        assert_eq!(web.docker.image.as_deref(), Some("acme/web:1"));
        assert_eq!(web.docker.port, Some(8080));
        assert!(web.docker.compose.is_some());
        // The path it is called on became an endpoint; nothing else did.
        assert_eq!(web.endpoints.keys().collect::<Vec<_>>(), ["/index.html"]);
        assert_eq!(s.services["cache"].replicas, 1);
        assert_eq!(
            s.docker.compose.as_ref().map(|c| (c.line, c.col)),
            Some((3, 11))
        );
        // A [services.X] table for a compose service sets its replicas.
        let s = scenario(
            &format!("{HEAD}{GATEWAY}[services.web]\nreplicas = 2\n"),
            COMPOSE,
        )
        .unwrap();
        assert_eq!(s.services["web"].replicas, 2);
        assert_eq!(
            s.services.keys().collect::<Vec<_>>(),
            ["gateway", "web", "cache"]
        );
    }

    #[test]
    fn a_compose_service_takes_no_endpoints_and_its_file_must_exist() {
        let endpoints = format!("{HEAD}{GATEWAY}[services.web.endpoints.\"/x\"]\nwork = \"1ms\"\n");
        assert_eq!(
            scenario(&endpoints, COMPOSE).unwrap_err(),
            "DIR/s.toml:12:25: `web` comes from the compose file (DIR/docker-compose.yml:2): it cannot declare endpoints\n  (hint: its image serves them; call its paths from other services, or name one in `[workload]`)"
        );
        let missing = format!(
            "{}{GATEWAY}",
            HEAD.replace("docker-compose.yml", "nope.yml")
        );
        assert_eq!(
            scenario(&missing, COMPOSE).unwrap_err(),
            "DIR/s.toml:3:11: compose file `DIR/nope.yml` not found\n  (hint: the path is relative to the scenario file's directory)"
        );
        // An error inside the compose file names the compose file.
        let bad = scenario(
            &format!("{HEAD}{GATEWAY}"),
            "services:\n  web:\n    image: a\n    privileged: true\n",
        )
        .unwrap_err();
        assert!(
            bad.starts_with("DIR/docker-compose.yml:4:5: unsupported compose key `privileged`"),
            "{bad}"
        );
    }

    const THREE: &str = "services:\n  db:\n    image: acme/db:1\n  ledger:\n    image: acme/ledger:1\n    depends_on:\n      db:\n        condition: service_healthy\n  gateway:\n    image: acme/gw:1\n    depends_on: [ledger, db]\n";

    #[test]
    fn depends_on_is_read_in_both_forms_and_orders_the_start() {
        let s = parse(THREE, Path::new("compose.yml")).unwrap();
        assert_eq!(
            s[1].depends_on,
            vec![Dependency {
                service: "db".into(),
                healthy: true,
                at: (7, 7)
            }]
        );
        let gateway: Vec<(&str, bool)> = s[2]
            .depends_on
            .iter()
            .map(|d| (d.service.as_str(), d.healthy))
            .collect();
        assert_eq!(gateway, [("ledger", false), ("db", false)]);
        let waves = start_waves(&s);
        assert_eq!(
            waves.into_iter().collect::<Vec<_>>(),
            [
                ("db".to_owned(), 0),
                ("gateway".to_owned(), 2),
                ("ledger".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn depends_on_an_unknown_service_or_in_a_circle_is_an_error_at_the_name() {
        let unknown = THREE.replace("[ledger, db]", "[ledger, cache]");
        assert_eq!(
            error(&unknown),
            "compose.yml:11:26: service `gateway` depends on `cache`, which the file does not have\n  (hint: services here: db, ledger, gateway)"
        );
        let circle = THREE.replace(
            "  db:\n    image: acme/db:1\n",
            "  db:\n    image: acme/db:1\n    depends_on: [gateway]\n",
        );
        let e = error(&circle);
        assert!(
            e.contains("`depends_on` goes round in a circle: db -> gateway -> ledger -> db"),
            "{e}"
        );
        let completed = THREE.replace("service_healthy", "service_completed_successfully");
        assert!(
            error(&completed).contains(
                "compose.yml:8:20: unsupported `condition: service_completed_successfully`"
            ),
            "{}",
            error(&completed)
        );
    }
}
