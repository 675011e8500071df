//! Raw scenario -> [`Scenario`]: the semantic checks serde cannot make.
//!
//! Services come first (the other sections refer to them), then the calls between
//! them and their cycles, the workload, faults ([`faults`]), invariants
//! ([`invariants`]) and `[explore]` ([`explore`]). The first problem found is reported; each check points at the
//! value that is wrong.

mod explore;
mod faults;
mod invariants;
mod services;

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use serde_spanned::Spanned;

use super::compose::ComposeService;
use super::duration::{format_duration, parse_duration};
use super::error::Diag;
use super::model::{
    Arrival, ComposeFile, DockerConfig, Expect, Scenario, Service, SimConfig, Workload,
};
use super::raw::{DurationText, RawDocker, RawScenario, RawSim, RawWorkload};

use super::limits::{check_requests, human, MAX_DURATION, MAX_RATE, MAX_TICK, MAX_WAIT, MIN_TICK};
pub(crate) use super::limits::{MAX_REPLICAS, MAX_RETRIES};

/// The hint of every limit error: where the limits are listed, and why.
const LIMITS_HINT: &str = "squall's limits are listed in docs/scenarios.md, under \"Limits\"";

const ARRIVALS: &[(&str, Arrival)] = &[
    ("constant", Arrival::Constant),
    ("poisson", Arrival::Poisson),
];
const EXPECTS: &[(&str, Expect)] = &[("pass", Expect::Pass), ("fail", Expect::Fail)];

/// `text` is the file's content, for the line numbers faults and invariants keep.
/// `compose` is the compose file `[docker] compose` names, already read.
pub(crate) fn scenario(
    raw: RawScenario,
    text: &str,
    path: &Path,
    compose: Option<(ComposeFile, Vec<ComposeService>)>,
) -> Result<Scenario, Diag> {
    let name = match raw.name {
        Some(name) if name.get_ref().trim().is_empty() => {
            return Err(
                Diag::new(name.span(), "`name` is empty").hint("leave it out to use the file name")
            );
        }
        Some(name) => name.into_inner(),
        None => path.file_stem().map_or_else(
            || "scenario".into(),
            |stem| stem.to_string_lossy().into_owned(),
        ),
    };
    let duration = duration(&raw.duration)?;
    if duration.is_zero() {
        return Err(Diag::new(
            raw.duration.span(),
            "`duration` must be greater than 0",
        ));
    }
    at_most(duration, &raw.duration, "duration", MAX_DURATION)?;
    let expect = raw
        .expect
        .as_ref()
        .map_or(Ok(Expect::Pass), |e| choice(e, "`expect` value", EXPECTS))?;
    let sim = sim(raw.sim)?;
    let (compose_file, compose_services) = compose.unzip();
    let raw_services = match raw.services {
        Some(s) => s,
        None if compose_services.is_some() => IndexMap::new(),
        None => {
            return Err(Diag::new(0..0, "missing required table `[services]`")
                .hint("declare at least one service, like `[services.gateway]`"))
        }
    };
    let mut services =
        services::services(raw_services, compose_services.as_deref().unwrap_or(&[]))?;
    // A compose service serves whatever paths its image serves: the workload's is one.
    if let Some(target) = services.get_mut(raw.workload.target.get_ref()) {
        services::open_endpoint(target, raw.workload.path.get_ref());
    }
    let workload = workload(raw.workload, duration, &services)?;
    let mut raw_faults = raw.faults;
    let modes: Vec<_> = raw_faults.iter_mut().map(|f| f.mode.take()).collect();
    if raw.gameday.is_none() {
        if let Some(m) = modes.iter().flatten().next() {
            return Err(Diag::new(m.span(), "`mode` is for game days only")
                .hint("add a `[gameday]` section, or leave `mode` out"));
        }
    }
    let kind_spans: Vec<_> = raw_faults.iter().map(|f| f.kind.span()).collect();
    let faults: Vec<crate::scenario::Fault> = raw_faults
        .into_iter()
        .map(|fault| faults::fault(fault, duration, &services, text))
        .collect::<Result<_, _>>()?;
    let invariants = raw
        .invariants
        .into_iter()
        .map(|invariant| invariants::invariant(invariant, duration, &services, text))
        .collect::<Result<_, _>>()?;
    let explore = raw
        .explore
        .map(|e| explore::explore(e, &services))
        .transpose()?;
    let gameday = match raw.gameday {
        None => None,
        Some(g) => {
            let fors: Vec<_> = faults
                .iter()
                .zip(kind_spans)
                .map(|(f, span)| {
                    let length = match f.kind {
                        // A restart is over at once: it needs no `for`.
                        crate::scenario::FaultKind::Restart { .. } => Some(Duration::ZERO),
                        _ => f.until.map(|u| u.saturating_sub(f.at)),
                    };
                    (length, span)
                })
                .collect();
            let names: Vec<&str> = services.keys().map(String::as_str).collect();
            Some(super::gameday::gameday(g, modes, &fors, &names, text)?)
        }
    };
    Ok(Scenario {
        gameday,
        name,
        description: raw.description.unwrap_or_default(),
        path: path.to_path_buf(),
        duration,
        seed: raw.seed.unwrap_or(1),
        expect,
        sim,
        workload,
        services,
        faults,
        invariants,
        explore,
        docker: docker(raw.docker, compose_file)?,
    })
}

fn docker(raw: Option<RawDocker>, compose: Option<ComposeFile>) -> Result<DockerConfig, Diag> {
    let Some(raw) = raw else {
        return Ok(DockerConfig::default());
    };
    Ok(DockerConfig {
        image: raw.image.as_ref().map(image).transpose()?,
        compose,
    })
}

/// An image reference: not empty, no white space (the engine would refuse it
/// only when the run starts).
pub(super) fn image(value: &Spanned<String>) -> Result<String, Diag> {
    let name = value.get_ref();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(Diag::new(
            value.span(),
            format!("`image` must be an image reference like \"acme/ledger:1.4\", found {name:?}"),
        ));
    }
    Ok(name.clone())
}

fn sim(raw: Option<RawSim>) -> Result<SimConfig, Diag> {
    let mut sim = SimConfig::default();
    let Some(raw) = raw else { return Ok(sim) };
    if let Some(tick) = &raw.tick {
        sim.tick = duration(tick)?;
        if sim.tick.is_zero() {
            return Err(Diag::new(tick.span(), "`tick` must be greater than 0"));
        }
        if !(MIN_TICK..=MAX_TICK).contains(&sim.tick) {
            let (min, max, found) = (human(MIN_TICK), human(MAX_TICK), human(sim.tick));
            return Err(Diag::new(
                tick.span(),
                format!("`tick` must be between {min} and {max}, found {found}"),
            )
            .hint(LIMITS_HINT));
        }
    }
    if let Some(latency) = raw.latency {
        sim.latency_min = optional_wait(&latency.min, "min")?.unwrap_or(sim.latency_min);
        sim.latency_max = optional_wait(&latency.max, "max")?.unwrap_or(sim.latency_max);
        if sim.latency_max < sim.latency_min {
            let span = latency.max.or(latency.min).map_or(0..0, |s| s.span());
            let (max, min) = (
                format_duration(sim.latency_max),
                format_duration(sim.latency_min),
            );
            return Err(Diag::new(
                span,
                format!("latency `max` {max} is less than `min` {min}"),
            ));
        }
    }
    Ok(sim)
}

fn workload(
    raw: RawWorkload,
    run: Duration,
    services: &IndexMap<String, Service>,
) -> Result<Workload, Diag> {
    let target = known_service(&raw.target, "target", services)?;
    known_endpoint(&raw.path, target)?;
    let rate = *raw.rate.get_ref();
    if !(rate > 0.0 && rate <= MAX_RATE) {
        return Err(Diag::new(
            raw.rate.span(),
            format!(
                "`rate` must be greater than 0 and at most {MAX_RATE} requests per second, \
                 found {rate}"
            ),
        ));
    }
    if let Err(too_many) = check_requests(rate, run) {
        return Err(Diag::new(raw.rate.span(), too_many.to_string())
            .hint("lower `rate` or `duration`; ".to_string() + LIMITS_HINT));
    }
    let deadline = duration(&raw.deadline)?;
    if deadline.is_zero() {
        return Err(Diag::new(
            raw.deadline.span(),
            "`deadline` must be greater than 0",
        ));
    }
    at_most(deadline, &raw.deadline, "deadline", MAX_WAIT)?;
    let warmup = optional_duration(&raw.warmup)?.unwrap_or(Duration::ZERO);
    if let (true, Some(text)) = (warmup >= run, &raw.warmup) {
        let (warmup, run) = (format_duration(warmup), format_duration(run));
        return Err(Diag::new(
            text.span(),
            format!("warm-up of {warmup} leaves nothing of the {run} run"),
        )
        .hint("`warmup` must be shorter than `duration`"));
    }
    let arrival = raw
        .arrival
        .as_ref()
        .map_or(Ok(Arrival::Constant), |a| choice(a, "arrival", ARRIVALS))?;
    Ok(Workload {
        target: target.name.clone(),
        path: raw.path.into_inner(),
        rate,
        arrival,
        deadline,
        warmup,
    })
}

// ---- helpers shared with the fault and invariant checks ----

pub(crate) fn duration(text: &Spanned<DurationText>) -> Result<Duration, Diag> {
    duration_at(text.get_ref(), text.span())
}

fn duration_at(text: &DurationText, span: Range<usize>) -> Result<Duration, Diag> {
    parse_duration(&text.0).map_err(|e| Diag {
        span,
        message: e.message,
        hint: e.hint,
    })
}

fn optional_duration(text: &Option<Spanned<DurationText>>) -> Result<Option<Duration>, Diag> {
    text.as_ref().map(duration).transpose()
}

/// Refuses `value` (read from `text`) when it is longer than `max`.
fn at_most(
    value: Duration,
    text: &Spanned<DurationText>,
    key: &str,
    max: Duration,
) -> Result<Duration, Diag> {
    if value <= max {
        return Ok(value);
    }
    let (max, found) = (human(max), human(value));
    Err(Diag::new(
        text.span(),
        format!("`{key}` must be at most {max}, found {found}"),
    )
    .hint(LIMITS_HINT))
}

/// A duration of at most [`MAX_WAIT`] (a timeout, a delay, a piece of work).
fn wait(text: &Spanned<DurationText>, key: &str) -> Result<Duration, Diag> {
    at_most(duration(text)?, text, key, MAX_WAIT)
}

fn optional_wait(
    text: &Option<Spanned<DurationText>>,
    key: &str,
) -> Result<Option<Duration>, Diag> {
    text.as_ref().map(|t| wait(t, key)).transpose()
}

/// `` `a`, `b` and `c` ``.
fn listing(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let names: Vec<String> = names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// One of a fixed set of spellings; `what` names the set in the message.
fn choice<T: Copy>(value: &Spanned<String>, what: &str, options: &[(&str, T)]) -> Result<T, Diag> {
    options
        .iter()
        .find(|(name, _)| name == value.get_ref())
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<String> = options
                .iter()
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            let hint = match names.len() {
                2 => format!("expected {} or {}", names[0], names[1]),
                _ => format!("expected one of {}", names.join(", ")),
            };
            Diag::new(
                value.span(),
                format!("unknown {what} `{}`", value.get_ref()),
            )
            .hint(hint)
        })
}

/// A fraction in `0..=1`, or `(0, 1]` when zero is not allowed.
fn fraction(value: &Spanned<f64>, key: &str, zero_allowed: bool) -> Result<f64, Diag> {
    let v = *value.get_ref();
    let ok = if zero_allowed {
        (0.0..=1.0).contains(&v)
    } else {
        v > 0.0 && v <= 1.0
    };
    if ok {
        return Ok(v);
    }
    let range = if zero_allowed {
        "between 0 and 1"
    } else {
        "greater than 0 and at most 1"
    };
    Err(Diag::new(
        value.span(),
        format!("`{key}` must be {range}, found {v}"),
    ))
}

fn int_in(value: &Spanned<i64>, key: &str, min: u32, max: u32) -> Result<u32, Diag> {
    let v = *value.get_ref();
    u32::try_from(v)
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| {
            let range = if max == u32::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            Diag::new(value.span(), format!("`{key}` must be {range}, found {v}"))
        })
}

fn known_service<'a>(
    name: &Spanned<String>,
    key: &str,
    services: &'a IndexMap<String, Service>,
) -> Result<&'a Service, Diag> {
    services
        .get(name.get_ref())
        .ok_or_else(|| unknown_service(name.get_ref(), name.span(), key, services))
}

fn unknown_service(
    name: &str,
    span: Range<usize>,
    key: &str,
    services: &IndexMap<String, Service>,
) -> Diag {
    let hint = if services.is_empty() {
        "no services are declared".to_string()
    } else {
        let names: Vec<String> = services.keys().map(|n| format!("`{n}`")).collect();
        format!("known services: {}", names.join(", "))
    };
    Diag::new(span, format!("unknown service `{name}` in `{key}`")).hint(hint)
}

fn known_endpoint(path: &Spanned<String>, service: &Service) -> Result<(), Diag> {
    if service.endpoints.contains_key(path.get_ref()) {
        return Ok(());
    }
    let hint = if service.endpoints.is_empty() {
        format!("`{}` declares no endpoints", service.name)
    } else {
        let paths: Vec<String> = service.endpoints.keys().map(|p| format!("`{p}`")).collect();
        format!("endpoints of `{}`: {}", service.name, paths.join(", "))
    };
    Err(Diag::new(
        path.span(),
        format!(
            "unknown endpoint `{}` on `{}`",
            path.get_ref(),
            service.name
        ),
    )
    .hint(hint))
}

/// "a `kill`", "an `error`": a kind with its article, for messages.
fn a(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} `{kind}`")
}

/// Refuses keys that do not apply to an entry's kind, e.g. `delay` on a `kill` fault.
fn check_keys(
    present: &[(&'static str, Range<usize>)],
    allowed: &[&str],
    kind: &str,
    what: &str,
) -> Result<(), Diag> {
    for (key, span) in present {
        if !allowed.contains(key) {
            let hint = if allowed.is_empty() {
                format!("{} {what} takes no other keys", a(kind))
            } else {
                format!("{} {what} takes {}", a(kind), listing(allowed))
            };
            return Err(Diag::new(
                span.clone(),
                format!("`{key}` does not apply to {} {what}", a(kind)),
            )
            .hint(hint));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    /// Ten lines, so text appended to it starts on line 11.
    pub(crate) const BASE: &str = r#"duration = "60s"
workload = { target = "gateway", path = "/authorise", rate = 100, deadline = "200ms" }
[services.gateway]
replicas = 2
[services.gateway.endpoints."/authorise"]
calls = [{ to = "ledger", path = "/reserve", timeout = "50ms" }]
[services.ledger]
replicas = 3
[services.ledger.endpoints."/reserve"]
work = "1ms"
"#;

    /// The full error `parse` gives for `text`, as a person would see it.
    pub(crate) fn error(text: &str) -> String {
        match crate::scenario::parse(text, Path::new("t.toml")) {
            Ok(scenario) => panic!("parsed, expected an error: {scenario:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// Checks each case, printing every mismatch before failing.
    pub(crate) fn check(cases: &[(&str, &str)]) {
        let mut failed = 0;
        for (text, expected) in cases {
            let actual = error(text);
            if actual != *expected {
                failed += 1;
                eprintln!("--- input:\n{text}\n--- expected:\n{expected}\n--- actual:\n{actual}\n");
            }
        }
        assert_eq!(failed, 0, "{failed} of {} cases failed", cases.len());
    }

    #[test]
    fn base_is_valid() {
        crate::scenario::parse(BASE, Path::new("t.toml")).unwrap();
        assert_eq!(BASE.lines().count(), 10);
    }

    #[test]
    fn toml_errors_read_well() {
        check(&[
            (
                "duration = \"60s\nseed = 2\n",
                "t.toml:1:16: invalid basic string, expected `\"`",
            ),
            (
                "duration = \"60s\"\nduration = \"20s\"\n",
                "t.toml:2:1: duplicate key `duration`",
            ),
            (
                "durration = \"60s\"\n",
                "t.toml:1:1: unknown key `durration`\n  (hint: expected one of `name`, `description`, `duration`, `seed`, `expect`, `sim`, `workload`, `services`, `faults`, `invariants`, `explore`, `docker`, `gameday`)",
            ),
            (
                &format!("{BASE}[services.fraud]\nreplica = 2\n"),
                "t.toml:12:1: unknown key `replica`\n  (hint: expected one of `replicas`, `balancer`, `endpoints`, `concurrency_limit`, `breaker`, `propagate_deadline`, `docker`)",
            ),
            (
                "seed = 1\n",
                "t.toml:1:1: missing required key `duration`\n  (hint: the length of the load phase, like `duration = \"60s\"`)",
            ),
            (
                "duration = \"60s\"\n[services.a]\n",
                "t.toml:1:1: missing required table `[workload]`\n  (hint: it names the load: `target`, `path`, `rate` and `deadline`)",
            ),
            (
                "duration = \"60s\"\n[workload]\ntarget = \"a\"\npath = \"/\"\nrate = 1\ndeadline = \"1s\"\n",
                "t.toml:1:1: missing required table `[services]`\n  (hint: declare at least one service, like `[services.gateway]`)",
            ),
            (
                "duration = \"60s\"\n[workload]\ntarget = \"a\"\npath = \"/\"\nrate = 1\n",
                "t.toml:2:1: missing required key `deadline`",
            ),
            (
                &format!("{BASE}[services.fraud]\nreplicas = \"two\"\n"),
                "t.toml:12:12: invalid type: string \"two\", expected an integer",
            ),
            (
                &format!("{BASE}[sim]\nlatency = 5\n"),
                "t.toml:12:11: invalid type: integer `5`, expected a table",
            ),
        ]);
    }

    #[test]
    fn durations_are_checked_where_they_are_written() {
        check(&[
            (
                &BASE.replacen("duration = \"60s\"", "duration = \"60\"", 1),
                "t.toml:1:12: expected a duration with a unit, like \"150ms\" or \"2s\"\n  (hint: `60` has no unit; write \"60ms\" or \"60s\")",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = 60", 1),
                "t.toml:1:12: expected a duration with a unit, like \"150ms\" or \"2s\"\n  (hint: `60` has no unit; write \"60ms\" or \"60s\")",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = \"60sec\"", 1),
                "t.toml:1:12: unknown unit `sec` in duration `60sec`\n  (hint: units are `ns`, `us`, `ms`, `s`, `m`, `h`)",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = \"-1s\"", 1),
                "t.toml:1:12: duration `-1s` is negative\n  (hint: durations count forward from zero)",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = true", 1),
                "t.toml:1:12: invalid type: boolean `true`, expected a duration with a unit, like \"150ms\" or \"2s\"",
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = \"1 fortnight\""),
                "t.toml:10:8: unknown unit `fortnight` in duration `1 fortnight`\n  (hint: units are `ns`, `us`, `ms`, `s`, `m`, `h`)",
            ),
            (
                &BASE.replacen("duration = \"60s\"", "duration = \"0s\"", 1),
                "t.toml:1:12: `duration` must be greater than 0",
            ),
        ]);
    }

    /// Every bound of `limits`, refused where it is written; the issue's two
    /// panics (a huge `deadline`, a huge call `timeout`) among them.
    #[test]
    fn limits_are_checked_at_load() {
        const HINT: &str =
            "\n  (hint: squall's limits are listed in docs/scenarios.md, under \"Limits\")";
        let call = "timeout = \"50ms\" }]";
        let chain = "duration = \"10s\"\n\
            workload = { target = \"a\", path = \"/\", rate = 1, deadline = \"1s\" }\n\
            [services.a.endpoints.\"/\"]\n\
            calls = [{ to = \"b\", path = \"/\", retries = 10, hedge = \"1ms\" }]\n\
            [services.b.endpoints.\"/\"]\n\
            calls = [{ to = \"c\", path = \"/\", retries = 10, hedge = \"1ms\" }]\n\
            [services.c.endpoints.\"/\"]\n\
            calls = [{ to = \"d\", path = \"/\", retries = 10, hedge = \"1ms\" }]\n\
            [services.d.endpoints.\"/\"]\n";
        check(&[
            (
                &BASE.replacen("\"60s\"", "\"25h\"", 1),
                &format!("t.toml:1:12: `duration` must be at most 24h, found 25h{HINT}"),
            ),
            (
                &BASE.replace("\"200ms\"", "\"9999999999999999999s\""),
                &format!("t.toml:2:78: `deadline` must be at most 1h, found 9999999999999999999s{HINT}"),
            ),
            (
                &BASE.replace("rate = 100", "rate = 1000").replacen("\"60s\"", "\"3h\"", 1),
                "t.toml:2:62: 1000 requests a second for 10800s is 10800000 requests, more than \
                 the 10000000 one run may offer\n  (hint: lower `rate` or `duration`; squall's \
                 limits are listed in docs/scenarios.md, under \"Limits\")",
            ),
            (
                &BASE.replace("rate = 100", "rate = nan"),
                "t.toml:2:62: `rate` must be greater than 0 and at most 100000 requests per second, found NaN",
            ),
            (
                &format!("{BASE}[sim]\ntick = \"10us\"\n"),
                &format!("t.toml:12:8: `tick` must be between 100us and 1s, found 10us{HINT}"),
            ),
            (
                &format!("{BASE}[sim]\ntick = \"2s\"\n"),
                &format!("t.toml:12:8: `tick` must be between 100us and 1s, found 2s{HINT}"),
            ),
            (
                &format!("{BASE}[sim]\nlatency = {{ min = \"0ms\", max = \"2h\" }}\n"),
                &format!("t.toml:12:32: `max` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &BASE.replace("\"50ms\"", "\"9999999999999s\""),
                &format!("t.toml:6:56: `timeout` must be at most 1h, found 9999999999999s{HINT}"),
            ),
            (
                &BASE.replace(call, "timeout = \"50ms\", backoff = \"2h\" }]"),
                &format!("t.toml:6:74: `backoff` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &BASE.replace(call, "timeout = \"50ms\", hedge = \"2h\" }]"),
                &format!("t.toml:6:72: `hedge` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = \"2h\""),
                &format!("t.toml:10:8: `work` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &BASE.replace("work = \"1ms\"", "work = { mean = \"90m\" }"),
                &format!("t.toml:10:17: `mean` must be at most 1h, found 5400s{HINT}"),
            ),
            (
                &BASE.replace("replicas = 3", "breaker = { failures = 5, cooldown = \"2h\" }"),
                &format!("t.toml:8:38: `cooldown` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &format!(
                    "{BASE}[services.s1]\nreplicas = 64\n[services.s2]\nreplicas = 64\n\
                     [services.s3]\nreplicas = 64\n[services.s4]\nreplicas = 64\n\
                     [services.s5]\nreplicas = 64\n[services.s6]\nreplicas = 64\n\
                     [services.s7]\nreplicas = 64\n[services.s8]\nreplicas = 64\n"
                ),
                "t.toml:26:12: the services have more than 512 instances in all (517 with `s8`)\n  \
                 (hint: lower `replicas`; squall's limits are listed in docs/scenarios.md, under \"Limits\")",
            ),
            (
                chain,
                "t.toml:4:17: `a /` may cause more than 10000 downstream calls per request \
                 (every attempt and hedge, down every layer)\n  (hint: lower `retries` or hedge \
                 less on the way; squall's limits are listed in docs/scenarios.md, under \"Limits\")",
            ),
            (
                &format!("{BASE}[[faults]]\nkind = \"latency\"\ntarget = \"ledger-1\"\nat = \"1s\"\ndelay = \"2h\"\n"),
                &format!("t.toml:15:9: `delay` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &format!("{BASE}[[faults]]\nkind = \"latency\"\ntarget = \"ledger-1\"\nat = \"1s\"\ndelay = \"2ms\"\njitter = \"2h\"\n"),
                &format!("t.toml:16:10: `jitter` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &format!("{BASE}[[invariants]]\nkind = \"latency\"\npercentile = 99.0\nmax = \"2h\"\n"),
                &format!("t.toml:14:7: `max` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &format!("{BASE}[[invariants]]\nkind = \"recovery\"\nwithin = \"25h\"\n"),
                &format!("t.toml:13:10: `within` must be at most 24h, found 25h{HINT}"),
            ),
        ]);
        // Two layers of 10 retries and hedges (22 × 23 = 506 calls) are allowed.
        let two = chain.replace(
            "calls = [{ to = \"d\", path = \"/\", retries = 10, hedge = \"1ms\" }]\n",
            "",
        );
        crate::scenario::parse(&two, Path::new("t.toml")).unwrap();
    }

    #[test]
    fn workload_is_checked() {
        let workload = "workload = { target = \"gateway\", path = \"/authorise\", rate = 100, deadline = \"200ms\" }";
        let with =
            |replacement: &str| BASE.replace(workload, &format!("workload = {{ {replacement} }}"));
        check(&[
            (
                &with("target = \"gatewy\", path = \"/authorise\", rate = 100, deadline = \"200ms\""),
                "t.toml:2:23: unknown service `gatewy` in `target`\n  (hint: known services: `gateway`, `ledger`)",
            ),
            (
                &with("target = \"gateway\", path = \"/auth\", rate = 100, deadline = \"200ms\""),
                "t.toml:2:41: unknown endpoint `/auth` on `gateway`\n  (hint: endpoints of `gateway`: `/authorise`)",
            ),
            (
                &with("target = \"gateway\", path = \"/authorise\", rate = 0, deadline = \"200ms\""),
                "t.toml:2:62: `rate` must be greater than 0 and at most 100000 requests per second, found 0",
            ),
            (
                &with("target = \"gateway\", path = \"/authorise\", rate = 1e6, deadline = \"200ms\""),
                "t.toml:2:62: `rate` must be greater than 0 and at most 100000 requests per second, found 1000000",
            ),
            (
                &with("target = \"gateway\", path = \"/authorise\", rate = 100, deadline = \"0s\""),
                "t.toml:2:78: `deadline` must be greater than 0",
            ),
            (
                &with("target = \"gateway\", path = \"/authorise\", rate = 100, deadline = \"1s\", warmup = \"60s\""),
                "t.toml:2:93: warm-up of 60s leaves nothing of the 60s run\n  (hint: `warmup` must be shorter than `duration`)",
            ),
            (
                &with("target = \"gateway\", path = \"/authorise\", rate = 100, deadline = \"1s\", arrival = \"bursty\""),
                "t.toml:2:94: unknown arrival `bursty`\n  (hint: expected `constant` or `poisson`)",
            ),
        ]);
    }
}
