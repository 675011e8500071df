//! `[services]`: names, replicas, endpoints and their work, the calls between them,
//! and the call graph, which must have no cycle.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde_spanned::Spanned;

use super::{
    choice, duration_at, fraction, int_in, known_endpoint, known_service, optional_wait, wait,
    LIMITS_HINT, MAX_REPLICAS, MAX_RETRIES,
};
use crate::scenario::compose::ComposeService;
use crate::scenario::duration::format_duration;
use crate::scenario::error::Diag;
use crate::scenario::limits::{human, MAX_FANOUT, MAX_INSTANCES, MAX_WAIT};
use crate::scenario::model::{Balancer, Breaker, Call, Endpoint, Service, ServiceDocker, Work};
use crate::scenario::raw::{RawCall, RawService, RawServiceDocker, RawWork};

const BALANCERS: &[(&str, Balancer)] = &[
    ("round-robin", Balancer::RoundRobin),
    ("random", Balancer::Random),
    ("p2c-ewma", Balancer::P2cEwma),
    ("epsilon-greedy", Balancer::EpsilonGreedy),
];

/// `compose`: the compose file's services. One the scenario also declares
/// takes its `[services.X]` settings (`replicas` first of all) and may declare
/// no endpoints; the others follow the scenario's services, in the compose
/// file's order.
pub(super) fn services(
    raw: IndexMap<Spanned<String>, RawService>,
    compose: &[ComposeService],
) -> Result<IndexMap<String, Service>, Diag> {
    // Pass 1: every service and endpoint, so calls and targets can refer to any of them.
    let mut services = IndexMap::new();
    let mut all_calls = Vec::new();
    let mut name_spans = Vec::new();
    let mut instances: u64 = 0;
    let declared: Vec<String> = raw.keys().map(|k| k.get_ref().clone()).collect();
    let extra = compose
        .iter()
        .filter(|c| !declared.contains(&c.name))
        .map(|c| (None, c));
    let listed = raw.into_iter().map(|(name, r)| {
        let from_compose = compose.iter().find(|c| &c.name == name.get_ref());
        (Some((name, r)), from_compose.unwrap_or(&NO_COMPOSE))
    });
    let mut entries: Vec<(Option<Declared>, &ComposeService)> = listed.collect();
    entries.extend(extra);
    for (declared, from_compose) in entries {
        let from_compose = Some(from_compose).filter(|c| !c.name.is_empty());
        let (name, raw_service) = match declared {
            Some(pair) => pair,
            // Only in the compose file: a service with the defaults (and the
            // compose file's replicas), named where the compose file names it.
            None => {
                let c = from_compose.expect("compose-only entries come from the compose file");
                (Spanned::new(0..0, c.name.clone()), RawService::default())
            }
        };
        let replicas_span = raw_service
            .replicas
            .as_ref()
            .map_or_else(|| name.span(), Spanned::span);
        let (service, calls) = match from_compose {
            Some(c) => compose_service(&name, raw_service, c)?,
            None => service(&name, raw_service)?,
        };

        instances += u64::from(service.replicas);
        if instances > u64::from(MAX_INSTANCES) {
            return Err(Diag::new(
                replicas_span,
                format!(
                    "the services have more than {MAX_INSTANCES} instances in all \
                     ({instances} with `{}`)",
                    name.get_ref()
                ),
            )
            .hint(format!("lower `replicas`; {LIMITS_HINT}")));
        }
        name_spans.push(name.span());
        services.insert(name.into_inner(), service);
        all_calls.push(calls);
    }
    check_instance_names(&services, &name_spans)?;
    // A compose service serves whatever paths its image serves: those called are its endpoints.
    for raw_calls in all_calls.iter().flatten().flatten() {
        if let Some(callee) = services.get_mut(raw_calls.to.get_ref()) {
            open_endpoint(callee, raw_calls.path.get_ref());
        }
    }
    // Pass 2: the calls, now that every name is known.
    let mut spans = Vec::new();
    for (service_index, endpoint_calls) in all_calls.into_iter().enumerate() {
        let mut service_spans = Vec::new();
        for (endpoint_index, raw_calls) in endpoint_calls.into_iter().enumerate() {
            let from = services[service_index].name.clone();
            let mut calls = Vec::new();
            let mut call_spans = Vec::new();
            for raw_call in raw_calls {
                call_spans.push(raw_call.to.span());
                calls.push(call(raw_call, &from, &services)?);
            }
            services[service_index].endpoints[endpoint_index].calls = calls;
            service_spans.push(call_spans);
        }
        spans.push(service_spans);
    }
    check_cycles(&services, &spans)?;
    check_fanout(&services, &spans)?;
    Ok(services)
}

/// Refuses an endpoint that may cause more than [`MAX_FANOUT`] downstream
/// calls for one request, at the call that takes it over.
///
/// An endpoint's worst case is the sum over its calls of `attempts × legs ×
/// (1 + the callee's worst case)`, two legs when the call hedges. Callees are
/// counted before their callers (depth first, memoised: the graph has no
/// cycle by now), so the endpoint named is the deepest one over the limit.
fn check_fanout(
    services: &IndexMap<String, Service>,
    spans: &[Vec<Vec<Range<usize>>>],
) -> Result<(), Diag> {
    let mut memo: Vec<Vec<Option<u64>>> = services
        .values()
        .map(|s| vec![None; s.endpoints.len()])
        .collect();
    for s in 0..services.len() {
        for e in 0..services[s].endpoints.len() {
            fanout(services, spans, &mut memo, (s, e))?;
        }
    }
    Ok(())
}

fn fanout(
    services: &IndexMap<String, Service>,
    spans: &[Vec<Vec<Range<usize>>>],
    memo: &mut [Vec<Option<u64>>],
    (s, e): (usize, usize),
) -> Result<u64, Diag> {
    if let Some(known) = memo[s][e] {
        return Ok(known);
    }
    let mut total: u64 = 0;
    for (index, call) in services[s].endpoints[e].calls.iter().enumerate() {
        // Calls were resolved against these maps, so the lookups cannot fail.
        let callee = services.get_index_of(&call.to).unwrap();
        let path = services[callee].endpoints.get_index_of(&call.path).unwrap();
        let below = fanout(services, spans, memo, (callee, path))?;
        let legs = if call.hedge.is_some() { 2 } else { 1 };
        let sent = u64::from(call.retries + 1) * legs;
        total = total.saturating_add(sent.saturating_mul(below.saturating_add(1)));
        if total > MAX_FANOUT {
            let (name, endpoint) = (
                &services[s].name,
                services[s].endpoints.get_index(e).unwrap().0,
            );
            return Err(Diag::new(
                spans[s][e][index].clone(),
                format!(
                    "`{name} {endpoint}` may cause more than {MAX_FANOUT} downstream calls \
                     per request (every attempt and hedge, down every layer)"
                ),
            )
            .hint(format!(
                "lower `retries` or hedge less on the way; {LIMITS_HINT}"
            )));
        }
    }
    memo[s][e] = Some(total);
    Ok(total)
}

/// Service name checks that need the whole list: `ledger-2` would shadow an instance.
fn check_instance_names(
    services: &IndexMap<String, Service>,
    spans: &[Range<usize>],
) -> Result<(), Diag> {
    for ((name, _), span) in services.iter().zip(spans) {
        let Some((base, index)) = name.rsplit_once('-') else {
            continue;
        };
        let (Some(other), Ok(index)) = (services.get(base), index.parse::<u32>()) else {
            continue;
        };
        if index >= 1 && index <= other.replicas {
            return Err(Diag::new(
                span.clone(),
                format!("service `{name}` has the name of instance {index} of `{base}`"),
            )
            .hint(format!(
                "rename it: `{base}-1` to `{base}-{}` name the instances of `{base}`",
                other.replicas
            )));
        }
    }
    Ok(())
}

fn service(name: &Spanned<String>, raw: RawService) -> Result<(Service, Vec<Vec<RawCall>>), Diag> {
    let valid_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.get_ref().is_empty() || !name.get_ref().chars().all(valid_name) {
        return Err(Diag::new(
            name.span(),
            format!("service name `{}` is not allowed", name.get_ref()),
        )
        .hint("use letters, digits, `-`, `_` and `.`"));
    }
    let breaker = match &raw.breaker {
        Some(b) => {
            let b = b.get_ref();
            let failures = int_in(&b.failures, "failures", 1, 1000)?;
            let cooldown = wait(&b.cooldown, "cooldown")?;
            if cooldown.is_zero() {
                return Err(Diag::new(
                    b.cooldown.span(),
                    "`cooldown` must be greater than 0",
                ));
            }
            Some(Breaker { failures, cooldown })
        }
        None => None,
    };
    let propagate_deadline = raw
        .propagate_deadline
        .as_ref()
        .is_some_and(|p| *p.get_ref());
    let replicas = match &raw.replicas {
        Some(replicas) => int_in(replicas, "replicas", 1, MAX_REPLICAS)?,
        None => 1,
    };
    let balancer = raw
        .balancer
        .as_ref()
        .map_or(Ok(Balancer::RoundRobin), |b| {
            choice(b, "balancer", BALANCERS)
        })?;
    let concurrency_limit = raw
        .concurrency_limit
        .as_ref()
        .map(|limit| int_in(limit, "concurrency_limit", 1, u32::MAX))
        .transpose()?;
    let mut endpoints = IndexMap::new();
    let mut calls = Vec::new();
    for (path, raw_endpoint) in raw.endpoints {
        if !path.get_ref().starts_with('/') {
            return Err(Diag::new(
                path.span(),
                format!("endpoint path `{}` must start with `/`", path.get_ref()),
            ));
        }
        // The fixture answers its admin requests (spans, counters) there.
        if path
            .get_ref()
            .starts_with(squall_fixture::config::ADMIN_PREFIX)
        {
            return Err(Diag::new(
                path.span(),
                format!(
                    "endpoint path `{}` is under `{}`, which squall keeps for itself",
                    path.get_ref(),
                    squall_fixture::config::ADMIN_PREFIX
                ),
            )
            .hint("pick another path"));
        }
        let work = match &raw_endpoint.work {
            Some(work) => self::work(work)?,
            None => Work::default(),
        };
        let error_rate = match &raw_endpoint.error_rate {
            Some(rate) => fraction(rate, "error_rate", true)?,
            None => 0.0,
        };
        endpoints.insert(
            path.into_inner(),
            Endpoint {
                work,
                error_rate,
                calls: Vec::new(),
            },
        );
        calls.push(raw_endpoint.calls);
    }
    let service = Service {
        name: name.get_ref().clone(),
        replicas,
        balancer,
        endpoints,
        concurrency_limit,
        breaker,
        propagate_deadline,
        docker: docker(raw.docker)?,
    };
    Ok((service, calls))
}

/// A service as the scenario declares it: its name and table.
type Declared = (Spanned<String>, RawService);

/// Stands for "not from the compose file" (an empty name) in [`services`].
static NO_COMPOSE: ComposeService = ComposeService {
    name: String::new(),
    image: String::new(),
    command: None,
    entrypoint: None,
    environment: Vec::new(),
    port: None,
    healthcheck: None,
    depends_on: Vec::new(),
    replicas: None,
    at: String::new(),
};

/// A compose service's path, as an endpoint (no work, no calls) the first
/// time something calls it; a service of the scenario's own is left alone.
pub(super) fn open_endpoint(service: &mut Service, path: &str) {
    if service.docker.compose.is_some() && !service.endpoints.contains_key(path) {
        service
            .endpoints
            .insert(path.to_owned(), Endpoint::default());
    }
}

/// A service from the compose file, with the scenario's `[services.X]`
/// settings when it has them: no endpoints (its image has them), no
/// `[services.X.docker]` (the compose file says what it runs).
fn compose_service(
    name: &Spanned<String>,
    mut raw: RawService,
    compose: &ComposeService,
) -> Result<(Service, Vec<Vec<RawCall>>), Diag> {
    if let Some((path, _)) = raw.endpoints.first() {
        return Err(Diag::new(
            path.span(),
            format!(
                "`{}` comes from the compose file ({}): it cannot declare endpoints",
                compose.name, compose.at
            ),
        )
        .hint("its image serves them; call its paths from other services, or name one in `[workload]`"));
    }
    if raw.docker.is_some() {
        return Err(Diag::new(
            name.span(),
            format!(
                "`{}` comes from the compose file ({}): it cannot have `[services.{}.docker]`",
                compose.name, compose.at, compose.name
            ),
        )
        .hint("the compose file says what it runs"));
    }
    let from_file = raw.replicas.is_some();
    raw.docker = None;
    let (mut service, calls) = service(name, raw)?;
    if !from_file {
        service.replicas = compose.replicas.unwrap_or(1);
    }
    service.docker = ServiceDocker {
        image: Some(compose.image.clone()),
        port: compose.port,
        compose: Some(compose.clone()),
    };
    Ok((service, calls))
}

fn docker(raw: Option<RawServiceDocker>) -> Result<ServiceDocker, Diag> {
    let Some(raw) = raw else {
        return Ok(ServiceDocker::default());
    };
    let port = raw
        .port
        .as_ref()
        .map(|p| int_in(p, "port", 1, u32::from(u16::MAX)).map(|p| p as u16))
        .transpose()?;
    Ok(ServiceDocker {
        image: raw.image.as_ref().map(super::image).transpose()?,
        port,
        compose: None,
    })
}

fn work(raw: &Spanned<RawWork>) -> Result<Work, Diag> {
    match raw.get_ref() {
        RawWork::Fixed(text) => {
            let work = duration_at(text, raw.span())?;
            if work > MAX_WAIT {
                let (max, found) = (human(MAX_WAIT), human(work));
                let message = format!("`work` must be at most {max}, found {found}");
                return Err(Diag::new(raw.span(), message).hint(LIMITS_HINT));
            }
            Ok(Work::Fixed(work))
        }
        RawWork::Table(table) => match (&table.mean, &table.p50, &table.p99) {
            (Some(mean), None, None) => Ok(Work::Mean(wait(mean, "mean")?)),
            (None, Some(p50_text), Some(p99_text)) => {
                let (p50, p99) = (wait(p50_text, "p50")?, wait(p99_text, "p99")?);
                if p50.is_zero() {
                    // A log-normal needs a positive median (the fixture refuses
                    // it at run time otherwise: found by tests/properties.rs).
                    return Err(Diag::new(p50_text.span(), "`p50` must be greater than 0")
                        .hint("write `work = \"0ms\"` for no work"));
                }
                if p99 < p50 {
                    let (p99, p50) = (format_duration(p99), format_duration(p50));
                    let message = format!("`p99` {p99} is less than `p50` {p50}");
                    return Err(Diag::new(p99_text.span(), message));
                }
                Ok(Work::Percentiles { p50, p99 })
            }
            _ => {
                let hint = "like `work = { mean = \"2ms\" }` or \
                            `work = { p50 = \"2ms\", p99 = \"20ms\" }`";
                Err(
                    Diag::new(raw.span(), "`work` takes `mean`, or both `p50` and `p99`")
                        .hint(hint),
                )
            }
        },
    }
}

fn call(raw: RawCall, from: &str, services: &IndexMap<String, Service>) -> Result<Call, Diag> {
    let to = known_service(&raw.to, "to", services)?;
    if to.name == from {
        return Err(
            Diag::new(raw.to.span(), format!("service `{from}` calls itself"))
                .hint("a call goes to another service; do the work in the endpoint's `work`"),
        );
    }
    known_endpoint(&raw.path, to)?;
    let timeout = optional_wait(&raw.timeout, "timeout")?;
    if let (Some(timeout), Some(text)) = (timeout, &raw.timeout) {
        if timeout.is_zero() {
            return Err(Diag::new(text.span(), "`timeout` must be greater than 0")
                .hint("leave it out for no timeout"));
        }
    }
    let hedge = optional_wait(&raw.hedge, "hedge")?;
    if let (Some(hedge), Some(text)) = (hedge, &raw.hedge) {
        if hedge.is_zero() {
            return Err(Diag::new(text.span(), "`hedge` must be greater than 0")
                .hint("leave it out to send no hedged request"));
        }
    }
    let retry_budget = raw
        .retry_budget
        .as_ref()
        .map(|b| fraction(b, "retry_budget", true))
        .transpose()?;
    Ok(Call {
        to: to.name.clone(),
        path: raw.path.into_inner(),
        timeout,
        retries: raw
            .retries
            .as_ref()
            .map_or(Ok(0), |r| int_in(r, "retries", 0, MAX_RETRIES))?,
        backoff: optional_wait(&raw.backoff, "backoff")?.unwrap_or(Duration::ZERO),
        required: raw.required.unwrap_or(true),
        group: raw
            .group
            .as_ref()
            .map_or(Ok(0), |g| int_in(g, "group", 0, u32::MAX))?,
        hedge,
        retry_budget,
    })
}

/// Refuses a call graph with a cycle, at the call that closes it.
///
/// Depth-first from every endpoint in file order, so the reported cycle is the same on
/// every run.
fn check_cycles(
    services: &IndexMap<String, Service>,
    spans: &[Vec<Vec<Range<usize>>>],
) -> Result<(), Diag> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    type Node = (usize, usize);
    struct Walk<'a> {
        services: &'a IndexMap<String, Service>,
        spans: &'a [Vec<Vec<Range<usize>>>],
        marks: Vec<Vec<Mark>>,
        path: Vec<Node>,
    }
    impl Walk<'_> {
        fn name(&self, (s, e): Node) -> String {
            let (service, endpoints) = self
                .services
                .get_index(s)
                .map(|(n, v)| (n, &v.endpoints))
                .unwrap();
            format!("`{service} {}`", endpoints.get_index(e).unwrap().0)
        }
        fn visit(&mut self, node: Node) -> Result<(), Diag> {
            self.marks[node.0][node.1] = Mark::OnPath;
            self.path.push(node);
            let calls = &self.services[node.0].endpoints[node.1].calls;
            for (index, call) in calls.iter().enumerate() {
                // Calls were resolved against these maps, so the lookups cannot fail.
                let s = self.services.get_index_of(&call.to).unwrap();
                let e = self.services[s].endpoints.get_index_of(&call.path).unwrap();
                match self.marks[s][e] {
                    Mark::Done => {}
                    Mark::New => self.visit((s, e))?,
                    Mark::OnPath => {
                        let start = self.path.iter().position(|&n| n == (s, e)).unwrap();
                        let mut names: Vec<String> =
                            self.path[start..].iter().map(|&n| self.name(n)).collect();
                        names.push(self.name((s, e)));
                        let span = self.spans[node.0][node.1][index].clone();
                        return Err(
                            Diag::new(span, format!("call cycle: {}", names.join(" -> "))).hint(
                                "a request would go round forever; remove one of these calls",
                            ),
                        );
                    }
                }
            }
            self.path.pop();
            self.marks[node.0][node.1] = Mark::Done;
            Ok(())
        }
    }
    let marks = services
        .values()
        .map(|s| vec![Mark::New; s.endpoints.len()])
        .collect();
    let mut walk = Walk {
        services,
        spans,
        marks,
        path: Vec::new(),
    };
    for s in 0..services.len() {
        for e in 0..services[s].endpoints.len() {
            if walk.marks[s][e] == Mark::New {
                walk.visit((s, e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, BASE};

    #[test]
    fn docker_sections_are_checked_at_load() {
        let service = |body: &str| format!("{BASE}[services.ledger.docker]\n{body}\n");
        check(&[
            (
                &service("portt = 8080"),
                "t.toml:12:1: unknown key `portt`\n  (hint: expected `image` or `port`)",
            ),
            (
                &service("port = 0"),
                "t.toml:12:8: `port` must be between 1 and 65535, found 0",
            ),
            (
                &service("port = 70000"),
                "t.toml:12:8: `port` must be between 1 and 65535, found 70000",
            ),
            (
                &service("image = \"\""),
                "t.toml:12:9: `image` must be an image reference like \"acme/ledger:1.4\", found \"\"",
            ),
            (
                &format!("{BASE}[docker]\nimage = \"acme ledger\"\n"),
                "t.toml:12:9: `image` must be an image reference like \"acme/ledger:1.4\", found \"acme ledger\"",
            ),
            (
                &format!("{BASE}[docker]\nimagee = \"x\"\n"),
                "t.toml:12:1: unknown key `imagee`\n  (hint: expected `image` or `compose`)",
            ),
        ]);
    }

    #[test]
    fn services_and_endpoints_are_checked() {
        check(&[
            (
                &BASE.replace("replicas = 3", "replicas = 0"),
                "t.toml:8:12: `replicas` must be between 1 and 64, found 0",
            ),
            (
                &BASE.replace("replicas = 3", "replicas = 65"),
                "t.toml:8:12: `replicas` must be between 1 and 64, found 65",
            ),
            (
                &BASE.replace("replicas = 3", "balancer = \"least-loaded\""),
                "t.toml:8:12: unknown balancer `least-loaded`\n  (hint: expected one of `round-robin`, `random`, `p2c-ewma`, `epsilon-greedy`)",
            ),
            (
                &BASE.replace("replicas = 3", "breaker = { failures = 0, cooldown = \"2s\" }"),
                "t.toml:8:24: `failures` must be between 1 and 1000, found 0",
            ),
            (
                &BASE.replace("replicas = 3", "propagate_deadline = \"yes\""),
                "t.toml:8:22: invalid type: string \"yes\", expected a boolean",
            ),
            (
                &BASE.replace("replicas = 3", "concurrency_limit = 0"),
                "t.toml:8:21: `concurrency_limit` must be at least 1, found 0",
            ),
            (
                &format!("{BASE}error_rate = 1.5\n"),
                "t.toml:11:14: `error_rate` must be between 0 and 1, found 1.5",
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = { p50 = \"20ms\", p99 = \"5ms\" }"),
                "t.toml:10:30: `p99` 5ms is less than `p50` 20ms",
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = { p99 = \"5ms\" }"),
                "t.toml:10:8: `work` takes `mean`, or both `p50` and `p99`\n  (hint: like `work = { mean = \"2ms\" }` or `work = { p50 = \"2ms\", p99 = \"20ms\" }`)",
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = { p50 = \"0s\", p99 = \"5ms\" }"),
                "t.toml:10:16: `p50` must be greater than 0\n  (hint: write `work = \"0ms\"` for no work)",
            ),
            (
                &BASE.replace("\"/reserve\"]", "\"/squall/spans\"]"),
                "t.toml:9:28: endpoint path `/squall/spans` is under `/squall/`, which squall keeps for itself\n  (hint: pick another path)",
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = { mean = \"2ms\", p95 = \"5ms\" }"),
                "t.toml:10:24: unknown key `p95`\n  (hint: expected one of `mean`, `p50`, `p99`)",
            ),
            (
                &BASE.replace("\"/reserve\"]", "\"reserve\"]"),
                "t.toml:9:28: endpoint path `reserve` must start with `/`",
            ),
            (
                &format!("{BASE}[services.\"ledger:2\"]\n"),
                "t.toml:11:11: service name `ledger:2` is not allowed\n  (hint: use letters, digits, `-`, `_` and `.`)",
            ),
            (
                &format!("{BASE}[services.ledger-2]\n"),
                "t.toml:11:11: service `ledger-2` has the name of instance 2 of `ledger`\n  (hint: rename it: `ledger-1` to `ledger-3` name the instances of `ledger`)",
            ),
            (
                "[sim]\nlatency = { min = \"5ms\", max = \"1ms\" }\n",
                "t.toml:1:1: missing required key `duration`\n  (hint: the length of the load phase, like `duration = \"60s\"`)",
            ),
            (
                &format!("{BASE}[sim]\nlatency = {{ min = \"5ms\", max = \"1ms\" }}\n"),
                "t.toml:12:32: latency `max` 1ms is less than `min` 5ms",
            ),
            (
                &format!("{BASE}[sim]\ntick = \"0ms\"\n"),
                "t.toml:12:8: `tick` must be greater than 0",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = \"60s\"\nexpect = \"flaky\"", 1),
                "t.toml:2:10: unknown `expect` value `flaky`\n  (hint: expected `pass` or `fail`)",
            ),
        ]);
    }

    #[test]
    fn calls_are_checked() {
        let call = "calls = [{ to = \"ledger\", path = \"/reserve\", timeout = \"50ms\" }]";
        check(&[
            (
                &BASE.replace(call, "calls = [{ to = \"ledgr\", path = \"/reserve\" }]"),
                "t.toml:6:17: unknown service `ledgr` in `to`\n  (hint: known services: `gateway`, `ledger`)",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"ledger\", path = \"/reserv\" }]"),
                "t.toml:6:34: unknown endpoint `/reserv` on `ledger`\n  (hint: endpoints of `ledger`: `/reserve`)",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"gateway\", path = \"/authorise\" }]"),
                "t.toml:6:17: service `gateway` calls itself\n  (hint: a call goes to another service; do the work in the endpoint's `work`)",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"ledger\", path = \"/reserve\", retries = 11 }]"),
                "t.toml:6:56: `retries` must be between 0 and 10, found 11",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"ledger\", path = \"/reserve\", timeout = \"0ms\" }]"),
                "t.toml:6:56: `timeout` must be greater than 0\n  (hint: leave it out for no timeout)",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"ledger\", path = \"/reserve\", retry_budget = 1.2 }]"),
                "t.toml:6:61: `retry_budget` must be between 0 and 1, found 1.2",
            ),
            (
                &BASE.replace(call, "calls = [{ to = \"ledger\", path = \"/reserve\", timout = \"50ms\" }]"),
                "t.toml:6:46: unknown key `timout`\n  (hint: expected one of `to`, `path`, `timeout`, `retries`, `backoff`, `required`, `group`, `hedge`, `retry_budget`)",
            ),
            (
                &BASE.replace(call, "calls = [{ path = \"/reserve\" }]"),
                "t.toml:6:10: missing required key `to`",
            ),
            (
                &format!("{BASE}calls = [{{ to = \"gateway\", path = \"/authorise\" }}]\n"),
                "t.toml:11:17: call cycle: `gateway /authorise` -> `ledger /reserve` -> `gateway /authorise`\n  (hint: a request would go round forever; remove one of these calls)",
            ),
        ]);
    }
}
