//! The scenario file as written: serde structs that mirror the TOML.
//!
//! Everything here is checked only for shape (unknown keys, wrong types). Values a later
//! check may refuse keep their byte span (`Spanned`), so the error can point at them.
//! Enumerations (`kind`, `balancer`, ...) stay strings: serde's "unknown variant"
//! message cannot carry our hint, and fault and invariant keys depend on the kind, so
//! those tables are flat here and sorted out in [`validate`](super::validate).

use std::fmt;
use std::ops::Range;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub duration: Spanned<DurationText>,
    pub seed: Option<u64>,
    pub expect: Option<Spanned<String>>,
    pub sim: Option<RawSim>,
    pub workload: RawWorkload,
    /// May be left out when `[docker] compose` brings the services.
    #[serde(default)]
    pub services: Option<IndexMap<Spanned<String>, RawService>>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
    #[serde(default)]
    pub invariants: Vec<RawInvariant>,
    pub explore: Option<Spanned<RawExplore>>,
    pub docker: Option<RawDocker>,
    /// `[gameday]`: the file drives faults into an existing staging system.
    pub gameday: Option<Spanned<RawGameday>>,
}

/// `[gameday]`: how targets are found in a running system, and the safety rails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGameday {
    pub project: Option<Spanned<String>>,
    pub filter: Option<Spanned<String>>,
    pub allow: Spanned<Vec<Spanned<String>>>,
    pub limits: Option<Spanned<RawGamedayLimits>>,
}

/// `[gameday] limits`: the blast radius.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGamedayLimits {
    pub instances_at_once: Option<Spanned<i64>>,
    pub keep_healthy: Option<Spanned<i64>>,
    pub max_for: Option<Spanned<DurationText>>,
}

/// `[explore]`: the space of fault schedules `squall explore` draws from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExplore {
    pub kinds: Option<Spanned<Vec<Spanned<String>>>>,
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    pub min_faults: Option<Spanned<i64>>,
    pub max_faults: Option<Spanned<i64>>,
    pub max_concurrent: Option<Spanned<i64>>,
    pub max_concurrent_per_service: Option<Spanned<i64>>,
    pub start: Option<Spanned<DurationText>>,
    pub settle: Option<Spanned<DurationText>>,
    pub length: Option<Spanned<Vec<Spanned<DurationText>>>>,
    pub delay: Option<Spanned<Vec<Spanned<DurationText>>>>,
    pub jitter: Option<Spanned<Vec<Spanned<DurationText>>>>,
    pub error_rate: Option<Spanned<Vec<Spanned<f64>>>>,
    pub status: Option<Spanned<Vec<Spanned<i64>>>>,
    pub swarm: Option<bool>,
}

/// `[docker]`: settings of the Docker backend for the whole scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDocker {
    pub image: Option<Spanned<String>>,
    pub compose: Option<Spanned<String>>,
}

/// `[services.X.docker]`: how one service runs on the Docker backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServiceDocker {
    pub image: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSim {
    pub tick: Option<Spanned<DurationText>>,
    pub latency: Option<RawLatencyRange>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLatencyRange {
    pub min: Option<Spanned<DurationText>>,
    pub max: Option<Spanned<DurationText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub target: Spanned<String>,
    pub path: Spanned<String>,
    pub rate: Spanned<f64>,
    pub arrival: Option<Spanned<String>>,
    pub deadline: Spanned<DurationText>,
    pub warmup: Option<Spanned<DurationText>>,
}

// Counts are read as i64 so that `replicas = 0` or `-1` gets our range message
// rather than serde's "expected u32".
/// `breaker = { failures = 5, cooldown = "2s" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBreaker {
    pub failures: Spanned<i64>,
    pub cooldown: Spanned<DurationText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub replicas: Option<Spanned<i64>>,
    pub balancer: Option<Spanned<String>>,
    #[serde(default)]
    pub endpoints: IndexMap<Spanned<String>, RawEndpoint>,
    pub concurrency_limit: Option<Spanned<i64>>,
    pub breaker: Option<Spanned<RawBreaker>>,
    pub propagate_deadline: Option<Spanned<bool>>,
    pub docker: Option<RawServiceDocker>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEndpoint {
    pub work: Option<Spanned<RawWork>>,
    pub error_rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub calls: Vec<RawCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub to: Spanned<String>,
    pub path: Spanned<String>,
    pub timeout: Option<Spanned<DurationText>>,
    pub retries: Option<Spanned<i64>>,
    pub backoff: Option<Spanned<DurationText>>,
    pub required: Option<bool>,
    pub group: Option<Spanned<i64>>,
    pub hedge: Option<Spanned<DurationText>>,
    pub retry_budget: Option<Spanned<f64>>,
}

/// A `[[faults]]` entry with every key any kind takes; the kind decides which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub kind: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub between: Option<Spanned<Vec<Spanned<RawSide>>>>,
    pub at: Option<Spanned<DurationText>>,
    #[serde(rename = "for")]
    pub for_: Option<Spanned<DurationText>>,
    pub delay: Option<Spanned<DurationText>>,
    pub jitter: Option<Spanned<DurationText>>,
    pub rate: Option<Spanned<f64>>,
    pub direction: Option<Spanned<String>>,
    pub status: Option<Spanned<i64>>,
    /// Game days only: which of the target service's containers (`one`, `all`, ...).
    pub mode: Option<Spanned<String>>,
}

impl RawFault {
    /// Kind-specific keys present in the entry, with the span of their values.
    pub fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys = Vec::new();
        let mut push = |name, span: Option<Range<usize>>| {
            if let Some(span) = span {
                keys.push((name, span));
            }
        };
        push("target", self.target.as_ref().map(Spanned::span));
        push("between", self.between.as_ref().map(Spanned::span));
        push("for", self.for_.as_ref().map(Spanned::span));
        push("delay", self.delay.as_ref().map(Spanned::span));
        push("jitter", self.jitter.as_ref().map(Spanned::span));
        push("rate", self.rate.as_ref().map(Spanned::span));
        push("direction", self.direction.as_ref().map(Spanned::span));
        push("status", self.status.as_ref().map(Spanned::span));
        keys
    }
}

/// One element of `between`: a target (latency, loss) or a list of them (a partition side).
#[derive(Debug)]
pub(crate) enum RawSide {
    One(String),
    Many(Vec<Spanned<String>>),
}

/// A `[[invariants]]` entry with every key any kind takes; the kind decides which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInvariant {
    pub kind: Spanned<String>,
    pub max_ratio: Option<Spanned<f64>>,
    pub percentile: Option<Spanned<f64>>,
    /// A duration for `latency`, a number for `amplification`.
    pub max: Option<Spanned<toml::Value>>,
    pub during: Option<Spanned<String>>,
    pub min: Option<Spanned<f64>>,
    pub degraded: Option<Spanned<String>>,
    pub within: Option<Spanned<DurationText>>,
    pub service: Option<Spanned<String>>,
}

impl RawInvariant {
    /// Kind-specific keys present in the entry, with the span of their values.
    pub fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys = Vec::new();
        let mut push = |name, span: Option<Range<usize>>| {
            if let Some(span) = span {
                keys.push((name, span));
            }
        };
        push("max_ratio", self.max_ratio.as_ref().map(Spanned::span));
        push("percentile", self.percentile.as_ref().map(Spanned::span));
        push("max", self.max.as_ref().map(Spanned::span));
        push("during", self.during.as_ref().map(Spanned::span));
        push("min", self.min.as_ref().map(Spanned::span));
        push("degraded", self.degraded.as_ref().map(Spanned::span));
        push("within", self.within.as_ref().map(Spanned::span));
        push("service", self.service.as_ref().map(Spanned::span));
        keys
    }
}

/// The text of a duration, parsed later so its error can carry a hint.
///
/// A bare number (`timeout = 150`) is kept as its text: it then fails for lack of a
/// unit, which says more than serde's "expected a string".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DurationText(pub String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration with a unit, like \"150ms\" or \"2s\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationText, E> {
        Ok(DurationText(text.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<DurationText, E> {
        Ok(DurationText(number.to_string()))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<DurationText, E> {
        Ok(DurationText(number.to_string()))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<DurationText, E> {
        Ok(DurationText(number.to_string()))
    }
}

/// `work`: `"1ms"`, `{ mean = "2ms" }` or `{ p50 = "2ms", p99 = "20ms" }`.
#[derive(Debug)]
pub(crate) enum RawWork {
    Fixed(DurationText),
    Table(RawWorkTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkTable {
    pub mean: Option<Spanned<DurationText>>,
    pub p50: Option<Spanned<DurationText>>,
    pub p99: Option<Spanned<DurationText>>,
}

// Hand-written rather than `#[serde(untagged)]`: untagged buffers the value, which
// loses the spans inside the table and turns every mistake into "did not match any
// variant".
impl<'de> Deserialize<'de> for RawWork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WorkVisitor;
        impl<'de> Visitor<'de> for WorkVisitor {
            type Value = RawWork;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"1ms\", or a table like { mean = \"2ms\" }")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawWork, E> {
                DurationVisitor.visit_str(text).map(RawWork::Fixed)
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<RawWork, E> {
                DurationVisitor.visit_i64(number).map(RawWork::Fixed)
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<RawWork, E> {
                DurationVisitor.visit_u64(number).map(RawWork::Fixed)
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<RawWork, E> {
                DurationVisitor.visit_f64(number).map(RawWork::Fixed)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawWork, A::Error> {
                let table = RawWorkTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawWork::Table(table))
            }
        }
        deserializer.deserialize_any(WorkVisitor)
    }
}

impl<'de> Deserialize<'de> for RawSide {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SideVisitor;
        impl<'de> Visitor<'de> for SideVisitor {
            type Value = RawSide;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a target like \"ledger-1\", or a list of targets")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawSide, E> {
                Ok(RawSide::One(text.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawSide, A::Error> {
                let mut targets = Vec::new();
                while let Some(target) = seq.next_element::<Spanned<String>>()? {
                    targets.push(target);
                }
                Ok(RawSide::Many(targets))
            }
        }
        deserializer.deserialize_any(SideVisitor)
    }
}
