//! The `[explore]` section: the space of fault schedules `squall explore`
//! draws from, read into [`ExploreConfig`] with errors that point at the key.
//!
//! The scenario parser keeps `[explore]` as an untyped `toml::Value`; this
//! module reads the file's text again with spans, so a typo in a kind or a
//! target is reported as `file:line:col`, as every other scenario error is.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::scenario::limits::{self, MAX_DURATION, MAX_WAIT};
use crate::scenario::{parse_duration, Scenario, ScenarioError};

/// At most this many explored faults per case (`max_faults`).
pub const MAX_FAULTS: usize = 16;

/// A kind of fault explore can inject, mildest first: shrinking moves a fault
/// towards the front of this list (among the kinds a case enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExploreKind {
    Latency,
    Error,
    Pause,
    Restart,
    Kill,
    Partition,
    Isolate,
}

impl ExploreKind {
    /// Every kind, mildest first.
    pub const ALL: [ExploreKind; 7] = [
        ExploreKind::Latency,
        ExploreKind::Error,
        ExploreKind::Pause,
        ExploreKind::Restart,
        ExploreKind::Kill,
        ExploreKind::Partition,
        ExploreKind::Isolate,
    ];

    /// The spelling of scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ExploreKind::Latency => "latency",
            ExploreKind::Error => "error",
            ExploreKind::Pause => "pause",
            ExploreKind::Restart => "restart",
            ExploreKind::Kill => "kill",
            ExploreKind::Partition => "partition",
            ExploreKind::Isolate => "isolate",
        }
    }

    fn parse(name: &str) -> Option<ExploreKind> {
        ExploreKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where an explored fault may land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExploreTarget {
    /// `"ledger"`: one instance of the service, chosen per fault.
    Service { name: String, replicas: u32 },
    /// `"ledger-2"`: that instance only.
    Instance { service: String, index: u32 },
}

impl ExploreTarget {
    pub fn service(&self) -> &str {
        match self {
            ExploreTarget::Service { name, .. } => name,
            ExploreTarget::Instance { service, .. } => service,
        }
    }
}

/// `[explore]`, validated against its scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploreConfig {
    /// Kinds a case may draw from, mildest first, without repeats.
    pub kinds: Vec<ExploreKind>,
    /// Targets, in file order.
    pub targets: Vec<ExploreTarget>,
    /// Explored faults per case, `min_faults..=max_faults` (before the
    /// concurrency limits drop any).
    pub min_faults: usize,
    pub max_faults: usize,
    /// At most this many faults active at once, the scenario's own included.
    pub max_concurrent: usize,
    /// At most this many faults active at once on one service.
    pub max_concurrent_per_service: usize,
    /// Explored faults start no earlier than this (default: warm-up + 1s, so
    /// the run has a baseline).
    pub start: Option<Duration>,
    /// Explored faults are healed this long before the load phase ends, so
    /// recovery can be judged.
    pub settle: Duration,
    /// Length of a fault, `length_min..=length_max` (clipped to the window).
    pub length_min: Duration,
    pub length_max: Duration,
    /// `latency` faults: added round-trip delay and jitter ranges.
    pub delay_min: Duration,
    pub delay_max: Duration,
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    /// `error` faults: fraction of requests answered with an error.
    pub error_rate_min: f64,
    pub error_rate_max: f64,
    /// `error` faults: statuses to pick from.
    pub status: Vec<u16>,
    /// Swarm testing: each case enables a random non-empty subset of `kinds`.
    pub swarm: bool,
}

#[derive(Debug, Deserialize)]
struct Doc {
    explore: Option<Spanned<RawExplore>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExplore {
    kinds: Option<Spanned<Vec<Spanned<String>>>>,
    targets: Option<Spanned<Vec<Spanned<String>>>>,
    min_faults: Option<Spanned<i64>>,
    max_faults: Option<Spanned<i64>>,
    max_concurrent: Option<Spanned<i64>>,
    max_concurrent_per_service: Option<Spanned<i64>>,
    start: Option<Spanned<String>>,
    settle: Option<Spanned<String>>,
    length: Option<Spanned<Vec<Spanned<String>>>>,
    delay: Option<Spanned<Vec<Spanned<String>>>>,
    jitter: Option<Spanned<Vec<Spanned<String>>>>,
    error_rate: Option<Spanned<Vec<Spanned<f64>>>>,
    status: Option<Spanned<Vec<Spanned<i64>>>>,
    swarm: Option<bool>,
}

/// A problem at a byte span of the file.
struct Diag {
    span: Range<usize>,
    message: String,
    hint: Option<String>,
}

fn diag(span: Range<usize>, message: impl Into<String>) -> Diag {
    Diag {
        span,
        message: message.into(),
        hint: None,
    }
}

impl Diag {
    fn hint(mut self, hint: impl Into<String>) -> Diag {
        self.hint = Some(hint.into());
        self
    }

    fn into_error(self, text: &str, path: &Path) -> ScenarioError {
        let (line, col) = line_col(text, self.span.start);
        ScenarioError {
            path: path.to_path_buf(),
            line,
            col,
            message: self.message,
            hint: self.hint,
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Reads `[explore]` of `scenario` from the file's `text` (the scenario was
/// parsed from it already).
pub fn parse(scenario: &Scenario, text: &str) -> Result<ExploreConfig, ScenarioError> {
    let path = scenario.path.as_path();
    let doc: Doc = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_owned();
        let d = match message.strip_prefix("unknown field `") {
            Some(rest) => {
                let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
                diag(span, format!("unknown key `{name}` in `[explore]`"))
                    .hint(expected.trim_start_matches(',').trim().to_owned())
            }
            None => diag(span, format!("in `[explore]`: {message}")),
        };
        d.into_error(text, path)
    })?;
    let Some(raw) = doc.explore else {
        return Err(ScenarioError {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: "has no `[explore]` section: nothing says which fault schedules to explore"
                .into(),
            hint: Some(
                "add one, e.g. `[explore]` with `kinds = [\"kill\", \"latency\"]`, \
                 `targets = [\"ledger\"]`, `max_faults = 3` (see docs/explore.md)"
                    .into(),
            ),
        });
    };
    validate(scenario, raw).map_err(|d| d.into_error(text, path))
}

fn validate(scenario: &Scenario, raw: Spanned<RawExplore>) -> Result<ExploreConfig, Diag> {
    let section = raw.span();
    let raw = raw.into_inner();

    let mut kinds = Vec::new();
    match &raw.kinds {
        None => kinds.extend(ExploreKind::ALL),
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(diag(list.span(), "`kinds` is empty").hint(expected_kinds()));
            }
            for k in list.get_ref() {
                let name = k.get_ref().as_str();
                if name == "loss" {
                    return Err(diag(
                        k.span(),
                        "fault kind `loss` cannot be explored in the simulator",
                    )
                    .hint(
                        "turmoil 0.7.2 has no TCP retransmission; use `latency` or `partition`",
                    ));
                }
                let kind = ExploreKind::parse(name).ok_or_else(|| {
                    diag(k.span(), format!("unknown fault kind `{name}`")).hint(expected_kinds())
                })?;
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            kinds.sort();
        }
    }

    let Some(target_list) = &raw.targets else {
        return Err(diag(section, "`[explore]` needs `targets`")
            .hint("the services (one instance each time) or instances faults may hit, like `targets = [\"ledger\", \"fraud-2\"]`"));
    };
    if target_list.get_ref().is_empty() {
        return Err(diag(target_list.span(), "`targets` is empty"));
    }
    let mut targets = Vec::new();
    for t in target_list.get_ref() {
        let name = t.get_ref();
        targets.push(target(scenario, name).ok_or_else(|| {
            let names: Vec<String> = scenario.services.keys().map(|s| format!("`{s}`")).collect();
            diag(t.span(), format!("unknown target `{name}`")).hint(format!(
                "a service or one of its instances (`ledger` or `ledger-2`); services: {}",
                names.join(", ")
            ))
        })?);
    }

    let count = |v: &Option<Spanned<i64>>, key: &str, default: usize, min: usize| match v {
        None => Ok(default),
        Some(v) => usize::try_from(*v.get_ref())
            .ok()
            .filter(|n| (min..=MAX_FAULTS).contains(n))
            .ok_or_else(|| {
                diag(
                    v.span(),
                    format!(
                        "`{key}` must be between {min} and {MAX_FAULTS}, found {}",
                        v.get_ref()
                    ),
                )
            }),
    };
    let max_faults = count(&raw.max_faults, "max_faults", 3, 1)?;
    let min_faults = count(&raw.min_faults, "min_faults", 1, 0)?;
    if min_faults > max_faults {
        let span = raw
            .min_faults
            .as_ref()
            .map(|v| v.span())
            .unwrap_or(section.clone());
        return Err(diag(
            span,
            format!("`min_faults` ({min_faults}) is greater than `max_faults` ({max_faults})"),
        ));
    }
    let max_concurrent = count(&raw.max_concurrent, "max_concurrent", max_faults, 1)?;
    let max_concurrent_per_service = count(
        &raw.max_concurrent_per_service,
        "max_concurrent_per_service",
        max_concurrent,
        1,
    )?;

    let start = raw
        .start
        .as_ref()
        .map(|t| at_most(t, "start", MAX_DURATION))
        .transpose()?;
    let settle = raw
        .settle
        .as_ref()
        .map(|t| at_most(t, "settle", MAX_DURATION))
        .transpose()?
        .unwrap_or(Duration::from_secs(5));
    let ms = Duration::from_millis;
    let (length_min, length_max) =
        range(&raw.length, "length", (ms(1000), ms(10_000)), MAX_DURATION)?;
    if length_min.is_zero() {
        let span = raw
            .length
            .as_ref()
            .map(|v| v.span())
            .unwrap_or(section.clone());
        return Err(diag(span, "`length` must start above 0"));
    }
    let (delay_min, delay_max) = range(&raw.delay, "delay", (ms(20), ms(300)), MAX_WAIT)?;
    if delay_min.is_zero() {
        let span = raw
            .delay
            .as_ref()
            .map(|v| v.span())
            .unwrap_or(section.clone());
        return Err(diag(span, "`delay` must start above 0"));
    }
    let (jitter_min, jitter_max) = range(&raw.jitter, "jitter", (ms(0), ms(0)), MAX_WAIT)?;

    let (error_rate_min, error_rate_max) = match &raw.error_rate {
        None => (0.1, 1.0),
        Some(list) => {
            let [lo, hi] = pair(list, "error_rate")?;
            let (lo, hi) = (*lo.get_ref(), *hi.get_ref());
            if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
                return Err(diag(
                    list.span(),
                    format!("`error_rate` must be [min, max] with 0 < min <= max <= 1, found [{lo}, {hi}]"),
                ));
            }
            (lo, hi)
        }
    };
    let status = match &raw.status {
        None => vec![503],
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(diag(list.span(), "`status` is empty"));
            }
            list.get_ref()
                .iter()
                .map(|s| {
                    u16::try_from(*s.get_ref())
                        .ok()
                        .filter(|v| (100..=599).contains(v))
                        .ok_or_else(|| {
                            diag(
                                s.span(),
                                format!(
                                    "`status` must be between 100 and 599, found {}",
                                    s.get_ref()
                                ),
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        }
    };

    Ok(ExploreConfig {
        kinds,
        targets,
        min_faults,
        max_faults,
        max_concurrent,
        max_concurrent_per_service,
        start,
        settle,
        length_min,
        length_max,
        delay_min,
        delay_max,
        jitter_min,
        jitter_max,
        error_rate_min,
        error_rate_max,
        status,
        swarm: raw.swarm.unwrap_or(true),
    })
}

fn expected_kinds() -> String {
    let names: Vec<String> = ExploreKind::ALL
        .iter()
        .map(|k| format!("`{}`", k.name()))
        .collect();
    format!("expected one of {}", names.join(", "))
}

fn target(scenario: &Scenario, name: &str) -> Option<ExploreTarget> {
    if let Some(svc) = scenario.services.get(name) {
        return Some(ExploreTarget::Service {
            name: name.to_owned(),
            replicas: svc.replicas,
        });
    }
    let (service, index) = name.rsplit_once('-')?;
    let index: u32 = index.parse().ok()?;
    let svc = scenario.services.get(service)?;
    (1..=svc.replicas)
        .contains(&index)
        .then(|| ExploreTarget::Instance {
            service: service.to_owned(),
            index,
        })
}

fn duration(text: &Spanned<String>) -> Result<Duration, Diag> {
    parse_duration(text.get_ref()).map_err(|e| diag(text.span(), e.to_string()))
}

fn pair<'a, T>(list: &'a Spanned<Vec<Spanned<T>>>, key: &str) -> Result<[&'a Spanned<T>; 2], Diag> {
    match list.get_ref().as_slice() {
        [lo, hi] => Ok([lo, hi]),
        _ => Err(diag(
            list.span(),
            format!("`{key}` must be a pair [min, max]"),
        )),
    }
}

/// A duration of at most `max` (docs/scenarios.md, "Limits").
fn at_most(text: &Spanned<String>, key: &str, max: Duration) -> Result<Duration, Diag> {
    let value = duration(text)?;
    if value > max {
        return Err(diag(
            text.span(),
            format!(
                "`{key}` must be at most {}, found {}",
                limits::human(max),
                limits::human(value)
            ),
        )
        .hint("squall's limits are listed in docs/scenarios.md, under \"Limits\""));
    }
    Ok(value)
}

fn range(
    v: &Option<Spanned<Vec<Spanned<String>>>>,
    key: &str,
    default: (Duration, Duration),
    max: Duration,
) -> Result<(Duration, Duration), Diag> {
    let Some(list) = v else {
        return Ok(default);
    };
    let [lo, hi] = pair(list, key)?;
    let (lo, hi) = (at_most(lo, key, max)?, at_most(hi, key, max)?);
    if lo > hi {
        return Err(diag(
            list.span(),
            format!("`{key}`: min is greater than max"),
        ));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
duration = "30s"
[workload]
target = "api"
path = "/get"
rate = 100
deadline = "200ms"
[services.api.endpoints."/get"]
calls = [{ to = "db", path = "/read", timeout = "50ms" }]
[services.db]
replicas = 2
[services.db.endpoints."/read"]
work = "1ms"
"#;

    fn explore(section: &str) -> Result<ExploreConfig, String> {
        let text = format!("{BASE}{section}");
        let path = Path::new("t.toml");
        let scenario = crate::scenario::parse(&text, path).expect("base parses");
        parse(&scenario, &text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_values() {
        let c = explore(
            "[explore]\nkinds = [\"kill\", \"latency\", \"kill\"]\ntargets = [\"db\", \"api-1\"]\n",
        )
        .unwrap();
        assert_eq!(c.kinds, vec![ExploreKind::Latency, ExploreKind::Kill]);
        assert_eq!(
            c.targets,
            vec![
                ExploreTarget::Service {
                    name: "db".into(),
                    replicas: 2
                },
                ExploreTarget::Instance {
                    service: "api".into(),
                    index: 1
                },
            ]
        );
        assert_eq!((c.min_faults, c.max_faults, c.max_concurrent), (1, 3, 3));
        assert_eq!(c.settle, Duration::from_secs(5));
        assert!(c.swarm);
        let c = explore("[explore]\ntargets = [\"db\"]\ndelay = [\"50ms\", \"1s\"]\nerror_rate = [0.5, 1]\nmax_faults = 4\nmax_concurrent = 2\n").unwrap();
        assert_eq!(c.kinds.len(), 7);
        assert_eq!(
            (c.delay_min, c.delay_max),
            (Duration::from_millis(50), Duration::from_secs(1))
        );
        assert_eq!((c.error_rate_min, c.error_rate_max), (0.5, 1.0));
        assert_eq!(
            (c.max_faults, c.max_concurrent, c.max_concurrent_per_service),
            (4, 2, 2)
        );
    }

    #[test]
    fn errors_name_the_place() {
        let cases: &[(&str, &str)] = &[
            ("[explore]\ntargets = [\"db\"]\nkind = [\"kill\"]\n", "t.toml:16:1: unknown key `kind` in `[explore]`"),
            ("[explore]\nkinds = [\"latncy\"]\ntargets = [\"db\"]\n", "t.toml:15:10: unknown fault kind `latncy`\n  (hint: expected one of `latency`, `error`, `pause`, `restart`, `kill`, `partition`, `isolate`)"),
            ("[explore]\ntargets = [\"db-3\"]\n", "t.toml:15:12: unknown target `db-3`"),
            ("[explore]\nkinds = [\"loss\"]\ntargets = [\"db\"]\n", "t.toml:15:10: fault kind `loss` cannot be explored"),
            ("[explore]\nkinds = [\"kill\"]\n", "t.toml:14:1: `[explore]` needs `targets`"),
            ("[explore]\ntargets = [\"db\"]\nmax_faults = 0\n", "t.toml:16:14: `max_faults` must be between 1 and 16, found 0"),
            ("[explore]\ntargets = [\"db\"]\nlength = [\"2s\"]\n", "t.toml:16:10: `length` must be a pair [min, max]"),
            ("[explore]\ntargets = [\"db\"]\ndelay = [\"2\", \"3s\"]\n", "t.toml:16:10: expected a duration with a unit"),
            ("", "t.toml: has no `[explore]` section"),
        ];
        for (section, want) in cases {
            let got = explore(section).unwrap_err();
            assert!(
                got.starts_with(want),
                "{section:?}\n got: {got}\nwant: {want}"
            );
        }
    }
}
