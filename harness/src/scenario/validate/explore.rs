//! `[explore]`: kinds and targets that exist, counts and ranges in bounds.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde_spanned::Spanned;

use super::{at_most, duration, MAX_DURATION, MAX_WAIT};
use crate::scenario::error::Diag;
use crate::scenario::explore::{ExploreConfig, ExploreKind, ExploreTarget, MAX_FAULTS};
use crate::scenario::model::Service;
use crate::scenario::raw::{DurationText, RawExplore};

type Pair<T> = Option<Spanned<Vec<Spanned<T>>>>;

pub(super) fn explore(
    raw: Spanned<RawExplore>,
    services: &IndexMap<String, Service>,
) -> Result<ExploreConfig, Diag> {
    let section = raw.span();
    let raw = raw.into_inner();
    let kinds = kinds(&raw.kinds)?;

    let Some(target_list) = &raw.targets else {
        return Err(Diag::new(section, "`[explore]` needs `targets`")
            .hint("the services (one instance each time) or instances faults may hit, like `targets = [\"ledger\", \"fraud-2\"]`"));
    };
    if target_list.get_ref().is_empty() {
        return Err(Diag::new(target_list.span(), "`targets` is empty"));
    }
    let targets = target_list
        .get_ref()
        .iter()
        .map(|t| target(services, t))
        .collect::<Result<_, _>>()?;

    let max_faults = count(&raw.max_faults, "max_faults", 3, 1)?;
    let min_faults = count(&raw.min_faults, "min_faults", 1, 0)?;
    if min_faults > max_faults {
        return Err(Diag::new(
            span_or(&raw.min_faults, &section),
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

    let longest = |t: &Spanned<DurationText>, key| at_most(duration(t)?, t, key, MAX_DURATION);
    let start = raw
        .start
        .as_ref()
        .map(|t| longest(t, "start"))
        .transpose()?;
    let settle = raw
        .settle
        .as_ref()
        .map(|t| longest(t, "settle"))
        .transpose()?
        .unwrap_or(Duration::from_secs(5));
    let ms = Duration::from_millis;
    let (length_min, length_max) =
        range(&raw.length, "length", (ms(1000), ms(10_000)), MAX_DURATION)?;
    if length_min.is_zero() {
        return Err(Diag::new(
            span_or(&raw.length, &section),
            "`length` must start above 0",
        ));
    }
    let (delay_min, delay_max) = range(&raw.delay, "delay", (ms(20), ms(300)), MAX_WAIT)?;
    if delay_min.is_zero() {
        return Err(Diag::new(
            span_or(&raw.delay, &section),
            "`delay` must start above 0",
        ));
    }
    let (jitter_min, jitter_max) = range(&raw.jitter, "jitter", (ms(0), ms(0)), MAX_WAIT)?;
    let (error_rate_min, error_rate_max) = error_rate(&raw.error_rate)?;

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
        status: status(&raw.status)?,
        swarm: raw.swarm.unwrap_or(true),
    })
}

/// `kinds`, mildest first and without repeats; every kind when left out.
fn kinds(raw: &Pair<String>) -> Result<Vec<ExploreKind>, Diag> {
    let Some(list) = raw else {
        return Ok(ExploreKind::ALL.to_vec());
    };
    if list.get_ref().is_empty() {
        return Err(Diag::new(list.span(), "`kinds` is empty").hint(expected_kinds()));
    }
    let mut kinds = Vec::new();
    for k in list.get_ref() {
        let name = k.get_ref().as_str();
        if name == "loss" {
            return Err(Diag::new(
                k.span(),
                "fault kind `loss` cannot be explored in the simulator",
            )
            .hint("turmoil 0.7.2 has no TCP retransmission; use `latency` or `partition`"));
        }
        let kind = ExploreKind::parse(name).ok_or_else(|| {
            Diag::new(k.span(), format!("unknown fault kind `{name}`")).hint(expected_kinds())
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    Ok(kinds)
}

fn expected_kinds() -> String {
    let names: Vec<String> = ExploreKind::ALL
        .iter()
        .map(|k| format!("`{}`", k.name()))
        .collect();
    format!("expected one of {}", names.join(", "))
}

/// `"ledger"` (a service) or `"ledger-2"` (one of its instances).
fn target(
    services: &IndexMap<String, Service>,
    name: &Spanned<String>,
) -> Result<ExploreTarget, Diag> {
    let found = match services.get(name.get_ref()) {
        Some(svc) => Some(ExploreTarget::Service {
            name: svc.name.clone(),
            replicas: svc.replicas,
        }),
        None => name
            .get_ref()
            .rsplit_once('-')
            .and_then(|(service, index)| {
                let index: u32 = index.parse().ok()?;
                let svc = services.get(service)?;
                (1..=svc.replicas)
                    .contains(&index)
                    .then(|| ExploreTarget::Instance {
                        service: service.to_owned(),
                        index,
                    })
            }),
    };
    found.ok_or_else(|| {
        let names: Vec<String> = services.keys().map(|s| format!("`{s}`")).collect();
        Diag::new(name.span(), format!("unknown target `{}`", name.get_ref())).hint(format!(
            "a service or one of its instances (`ledger` or `ledger-2`); services: {}",
            names.join(", ")
        ))
    })
}

/// A count of faults in `min..=MAX_FAULTS`, `default` when left out.
fn count(
    value: &Option<Spanned<i64>>,
    key: &str,
    default: usize,
    min: usize,
) -> Result<usize, Diag> {
    let Some(v) = value else {
        return Ok(default);
    };
    usize::try_from(*v.get_ref())
        .ok()
        .filter(|n| (min..=MAX_FAULTS).contains(n))
        .ok_or_else(|| {
            let found = v.get_ref();
            Diag::new(
                v.span(),
                format!("`{key}` must be between {min} and {MAX_FAULTS}, found {found}"),
            )
        })
}

fn span_or<T>(value: &Option<Spanned<T>>, section: &Range<usize>) -> Range<usize> {
    value.as_ref().map_or(section.clone(), Spanned::span)
}

fn pair<'a, T>(list: &'a Spanned<Vec<Spanned<T>>>, key: &str) -> Result<[&'a Spanned<T>; 2], Diag> {
    match list.get_ref().as_slice() {
        [lo, hi] => Ok([lo, hi]),
        _ => Err(Diag::new(
            list.span(),
            format!("`{key}` must be a pair [min, max]"),
        )),
    }
}

/// `[min, max]` durations of at most `max` each, `default` when left out.
fn range(
    value: &Pair<DurationText>,
    key: &str,
    default: (Duration, Duration),
    max: Duration,
) -> Result<(Duration, Duration), Diag> {
    let Some(list) = value else {
        return Ok(default);
    };
    let [lo, hi] = pair(list, key)?;
    let lo = at_most(duration(lo)?, lo, key, max)?;
    let hi = at_most(duration(hi)?, hi, key, max)?;
    if lo > hi {
        return Err(Diag::new(
            list.span(),
            format!("`{key}`: min is greater than max"),
        ));
    }
    Ok((lo, hi))
}

fn error_rate(value: &Pair<f64>) -> Result<(f64, f64), Diag> {
    let Some(list) = value else {
        return Ok((0.1, 1.0));
    };
    let [lo, hi] = pair(list, "error_rate")?;
    let (lo, hi) = (*lo.get_ref(), *hi.get_ref());
    if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
        return Err(Diag::new(
            list.span(),
            format!("`error_rate` must be [min, max] with 0 < min <= max <= 1, found [{lo}, {hi}]"),
        ));
    }
    Ok((lo, hi))
}

fn status(value: &Pair<i64>) -> Result<Vec<u16>, Diag> {
    let Some(list) = value else {
        return Ok(vec![503]);
    };
    if list.get_ref().is_empty() {
        return Err(Diag::new(list.span(), "`status` is empty"));
    }
    list.get_ref()
        .iter()
        .map(|s| {
            u16::try_from(*s.get_ref())
                .ok()
                .filter(|v| (100..=599).contains(v))
                .ok_or_else(|| {
                    let found = s.get_ref();
                    Diag::new(
                        s.span(),
                        format!("`status` must be between 100 and 599, found {found}"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::tests::{check, BASE};
    use crate::scenario::{ExploreConfig, ExploreKind, ExploreTarget};

    fn config(section: &str) -> ExploreConfig {
        let text = format!("{BASE}{section}");
        let scenario = crate::scenario::parse(&text, Path::new("t.toml")).unwrap();
        scenario.explore.expect("an [explore] section")
    }

    #[test]
    fn defaults_and_values() {
        let c = config(
            "[explore]\nkinds = [\"kill\", \"latency\", \"kill\"]\ntargets = [\"ledger\", \"gateway-1\"]\n",
        );
        assert_eq!(c.kinds, vec![ExploreKind::Latency, ExploreKind::Kill]);
        assert_eq!(
            c.targets,
            vec![
                ExploreTarget::Service {
                    name: "ledger".into(),
                    replicas: 3
                },
                ExploreTarget::Instance {
                    service: "gateway".into(),
                    index: 1
                },
            ]
        );
        assert_eq!((c.min_faults, c.max_faults, c.max_concurrent), (1, 3, 3));
        assert_eq!(c.settle, Duration::from_secs(5));
        assert!(c.swarm);
        let c = config(
            "[explore]\ntargets = [\"ledger\"]\ndelay = [\"50ms\", \"1s\"]\nerror_rate = [0.5, 1]\n\
             max_faults = 4\nmax_concurrent = 2\n",
        );
        assert_eq!(c.kinds, ExploreKind::ALL.to_vec());
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

    /// Every `[explore]` error at its place, as any other scenario error.
    #[test]
    fn explore_sections_are_checked_at_load() {
        const KINDS: &str =
            "`latency`, `error`, `pause`, `restart`, `kill`, `partition`, `isolate`";
        const HINT: &str =
            "\n  (hint: squall's limits are listed in docs/scenarios.md, under \"Limits\")";
        let with = |section: &str| format!("{BASE}[explore]\n{section}");
        check(&[
            (
                &with("targets = [\"ledger\"]\nkind = [\"kill\"]\n"),
                "t.toml:13:1: unknown key `kind`\n  (hint: expected one of `kinds`, `targets`, \
                 `min_faults`, `max_faults`, `max_concurrent`, `max_concurrent_per_service`, \
                 `start`, `settle`, `length`, `delay`, `jitter`, `error_rate`, `status`, `swarm`)",
            ),
            (
                &with("kinds = [\"latncy\"]\ntargets = [\"ledger\"]\n"),
                &format!("t.toml:12:10: unknown fault kind `latncy`\n  (hint: expected one of {KINDS})"),
            ),
            (
                &with("kinds = []\ntargets = [\"ledger\"]\n"),
                &format!("t.toml:12:9: `kinds` is empty\n  (hint: expected one of {KINDS})"),
            ),
            (
                &with("kinds = [\"loss\"]\ntargets = [\"ledger\"]\n"),
                "t.toml:12:10: fault kind `loss` cannot be explored in the simulator\n  \
                 (hint: turmoil 0.7.2 has no TCP retransmission; use `latency` or `partition`)",
            ),
            (
                &with("targets = [\"ledger-4\"]\n"),
                "t.toml:12:12: unknown target `ledger-4`\n  (hint: a service or one of its \
                 instances (`ledger` or `ledger-2`); services: `gateway`, `ledger`)",
            ),
            (&with("targets = []\n"), "t.toml:12:11: `targets` is empty"),
            (
                &with("kinds = [\"kill\"]\n"),
                "t.toml:11:1: `[explore]` needs `targets`\n  (hint: the services (one instance \
                 each time) or instances faults may hit, like `targets = [\"ledger\", \"fraud-2\"]`)",
            ),
            (
                &with("targets = [\"ledger\"]\nmax_faults = 0\n"),
                "t.toml:13:14: `max_faults` must be between 1 and 16, found 0",
            ),
            (
                &with("targets = [\"ledger\"]\nmin_faults = 4\n"),
                "t.toml:13:14: `min_faults` (4) is greater than `max_faults` (3)",
            ),
            (
                &with("targets = [\"ledger\"]\nlength = [\"2s\"]\n"),
                "t.toml:13:10: `length` must be a pair [min, max]",
            ),
            (
                &with("targets = [\"ledger\"]\nlength = [\"0s\", \"1s\"]\n"),
                "t.toml:13:10: `length` must start above 0",
            ),
            (
                &with("targets = [\"ledger\"]\nlength = [\"3s\", \"1s\"]\n"),
                "t.toml:13:10: `length`: min is greater than max",
            ),
            (
                &with("targets = [\"ledger\"]\ndelay = [\"2\", \"3s\"]\n"),
                "t.toml:13:10: expected a duration with a unit, like \"150ms\" or \"2s\"\n  \
                 (hint: `2` has no unit; write \"2ms\" or \"2s\")",
            ),
            (
                &with("targets = [\"ledger\"]\ndelay = [\"1ms\", \"2h\"]\n"),
                &format!("t.toml:13:17: `delay` must be at most 1h, found 2h{HINT}"),
            ),
            (
                &with("targets = [\"ledger\"]\nsettle = \"25h\"\n"),
                &format!("t.toml:13:10: `settle` must be at most 24h, found 25h{HINT}"),
            ),
            (
                &with("targets = [\"ledger\"]\nerror_rate = [0, 1]\n"),
                "t.toml:13:14: `error_rate` must be [min, max] with 0 < min <= max <= 1, found [0, 1]",
            ),
            (
                &with("targets = [\"ledger\"]\nstatus = [200, 600]\n"),
                "t.toml:13:16: `status` must be between 100 and 599, found 600",
            ),
            (
                &with("targets = [\"ledger\"]\nswarm = \"yes\"\n"),
                "t.toml:13:9: invalid type: string \"yes\", expected a boolean",
            ),
        ]);
    }
}
