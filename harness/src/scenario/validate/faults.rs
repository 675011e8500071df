//! `[[faults]]` entries: kind, keys that apply to it, timing inside the run, targets.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde_spanned::Spanned;

use super::{
    a, check_keys, choice, duration, fraction, int_in, optional_wait, unknown_service, wait,
};
use crate::scenario::duration::format_duration;
use crate::scenario::error::{line_col, Diag};
use crate::scenario::model::{Fault, FaultKind, LinkScope, Service, Target};
use crate::scenario::raw::{RawFault, RawSide};

const KINDS: &[&str] = &[
    "kill",
    "restart",
    "pause",
    "latency",
    "loss",
    "partition",
    "isolate",
    "error",
];

/// Keys each kind takes besides `kind`, `at` and `for`.
fn keys_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "latency" => &["target", "between", "delay", "jitter"],
        "loss" => &["target", "between", "rate"],
        "partition" => &["between", "direction"],
        "error" => &["target", "status", "rate"],
        _ => &["target"],
    }
}

pub(super) fn fault(
    raw: RawFault,
    run: Duration,
    services: &IndexMap<String, Service>,
    text: &str,
) -> Result<Fault, Diag> {
    let kind = raw.kind.get_ref().as_str();
    let kind_span = raw.kind.span();
    if !KINDS.contains(&kind) {
        let names: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
        return Err(Diag::new(kind_span, format!("unknown fault kind `{kind}`"))
            .hint(format!("expected one of {}", names.join(", "))));
    }
    if let (Some(for_), "restart") = (&raw.for_, kind) {
        return Err(Diag::new(for_.span(), "a `restart` fault takes no `for`")
            .hint("use `kill` with `for` for a downtime"));
    }
    let mut allowed = keys_of(kind).to_vec();
    allowed.extend(["at", "for"]);
    check_keys(&raw.present(), &allowed, kind, "fault")?;

    let Some(at_text) = &raw.at else {
        return Err(Diag::new(kind_span, "missing required key `at`")
            .hint("when the fault starts, like `at = \"10s\"`"));
    };
    let at = duration(at_text)?;
    if at >= run {
        let (at, run) = (format_duration(at), format_duration(run));
        return Err(Diag::new(
            at_text.span(),
            format!("fault at {at} starts after the {run} run"),
        )
        .hint("`at` must be less than `duration`"));
    }
    let until = match &raw.for_ {
        None => None,
        Some(for_text) => {
            let length = duration(for_text)?;
            if length.is_zero() {
                return Err(Diag::new(for_text.span(), "`for` must be greater than 0")
                    .hint("omit it to last until the end"));
            }
            // Saturating: a `for` of centuries must give this message, not an overflow.
            let until = at.saturating_add(length);
            if until > run {
                let (at, length, run) = (
                    format_duration(at),
                    format_duration(length),
                    format_duration(run),
                );
                return Err(Diag::new(
                    for_text.span(),
                    format!("fault at {at} for {length} ends after the {run} run"),
                )
                .hint("shorten `for`, or omit it to last until the end"));
            }
            Some(until)
        }
    };

    let target = || {
        let hint = "like `target = \"ledger-1\"`";
        let text = required(&raw.target, "target", kind, kind_span.clone(), hint)?;
        resolve(text, "target", services)
    };
    let kind = match kind {
        "kill" => FaultKind::Kill { target: target()? },
        "restart" => FaultKind::Restart { target: target()? },
        "pause" => FaultKind::Pause { target: target()? },
        "isolate" => FaultKind::Isolate { target: target()? },
        "latency" => {
            let scope = scope(&raw, kind_span.clone(), services)?;
            let delay_text = required(
                &raw.delay,
                "delay",
                kind,
                kind_span,
                "like `delay = \"150ms\"`",
            )?;
            let delay = wait(delay_text, "delay")?;
            if delay.is_zero() {
                return Err(Diag::new(
                    delay_text.span(),
                    "`delay` must be greater than 0",
                ));
            }
            let jitter = optional_wait(&raw.jitter, "jitter")?.unwrap_or(Duration::ZERO);
            FaultKind::Latency {
                scope,
                delay,
                jitter,
            }
        }
        "loss" => {
            let scope = scope(&raw, kind_span.clone(), services)?;
            let rate = required(
                &raw.rate,
                "rate",
                kind,
                kind_span,
                "the fraction of packets dropped, like `rate = 0.05`",
            )?;
            FaultKind::Loss {
                scope,
                rate: fraction(rate, "rate", false)?,
            }
        }
        "partition" => partition(&raw, kind_span, services)?,
        "error" => {
            let status = match &raw.status {
                Some(status) => int_in(status, "status", 100, 599)? as u16,
                None => 500,
            };
            let rate = raw
                .rate
                .as_ref()
                .map_or(Ok(1.0), |r| fraction(r, "rate", false))?;
            let target = target()?;
            FaultKind::Error {
                target,
                status,
                rate,
            }
        }
        _ => unreachable!("kind checked against KINDS"),
    };
    let (line, col) = line_col(text, raw.kind.span().start);
    Ok(Fault {
        kind,
        at,
        until,
        line,
        col,
    })
}

fn required<'a, T>(
    value: &'a Option<Spanned<T>>,
    key: &str,
    kind: &str,
    kind_span: Range<usize>,
    hint: &str,
) -> Result<&'a Spanned<T>, Diag> {
    value.as_ref().ok_or_else(|| {
        Diag::new(kind_span, format!("{} fault needs `{key}`", a(kind))).hint(hint.to_string())
    })
}

/// `target` or a two-element `between`, for latency and loss.
fn scope(
    raw: &RawFault,
    kind_span: Range<usize>,
    services: &IndexMap<String, Service>,
) -> Result<LinkScope, Diag> {
    let kind = a(raw.kind.get_ref());
    match (&raw.target, &raw.between) {
        (Some(target), None) => Ok(LinkScope::Instance(resolve(target, "target", services)?)),
        (None, Some(between)) => {
            let shape = || {
                let example = "like `between = [\"card-api\", \"ledger\"]`";
                Diag::new(between.span(), "`between` takes two targets")
                    .hint(format!("{example}; {kind} fault's link has two ends"))
            };
            let [first, second] = between.get_ref().as_slice() else {
                return Err(shape());
            };
            let end = |side: &Spanned<RawSide>| match side.get_ref() {
                RawSide::One(name) => {
                    let name = Spanned::new(side.span(), name.clone());
                    resolve(&name, "between", services)
                }
                RawSide::Many(_) => Err(shape()),
            };
            Ok(LinkScope::Between(end(first)?, end(second)?))
        }
        (None, None) => {
            let message = format!("{kind} fault needs `target` or `between`");
            let hint = "`target = \"fraud-2\"` for what an instance sends, \
                        `between = [\"a\", \"b\"]` for one link";
            Err(Diag::new(kind_span, message).hint(hint))
        }
        (Some(_), Some(between)) => {
            let message = format!("{kind} fault takes `target` or `between`, not both");
            Err(Diag::new(between.span(), message))
        }
    }
}

fn partition(
    raw: &RawFault,
    kind_span: Range<usize>,
    services: &IndexMap<String, Service>,
) -> Result<FaultKind, Diag> {
    let example = "like `between = [[\"card-api\"], [\"merchant\"]]`";
    let between = required(&raw.between, "between", "partition", kind_span, example)?;
    let [first, second] = between.get_ref().as_slice() else {
        return Err(Diag::new(between.span(), "a partition has two sides").hint(example));
    };
    let mut sides = Vec::new();
    for (number, side) in [(1, first), (2, second)] {
        let targets = match side.get_ref() {
            RawSide::One(name) => vec![resolve(
                &Spanned::new(side.span(), name.clone()),
                "between",
                services,
            )?],
            RawSide::Many(names) => names
                .iter()
                .map(|n| resolve(n, "between", services))
                .collect::<Result<_, _>>()?,
        };
        if targets.is_empty() {
            return Err(Diag::new(
                side.span(),
                format!("side {number} of the partition is empty"),
            )
            .hint("each side needs at least one target"));
        }
        sides.push((targets, side));
    }
    let (second_side, second_raw) = sides.pop().unwrap();
    let (first_side, _) = sides.pop().unwrap();
    for (index, b) in second_side.iter().enumerate() {
        if let Some(a) = first_side.iter().find(|a| overlap(a, b)) {
            let span = match second_raw.get_ref() {
                RawSide::Many(names) => names[index].span(),
                RawSide::One(_) => second_raw.span(),
            };
            let message = if a == b {
                format!("`{b}` is on both sides of the partition")
            } else {
                format!("`{a}` and `{b}` may share instances across the partition")
            };
            return Err(Diag::new(span, message).hint("an instance cannot be cut off from itself"));
        }
    }
    let one_way = match &raw.direction {
        Some(direction) => choice(
            direction,
            "direction",
            &[("both", false), ("one-way", true)],
        )?,
        None => false,
    };
    Ok(FaultKind::Partition {
        sides: (first_side, second_side),
        one_way,
    })
}

/// Whether two targets can name the same instance.
fn overlap(a: &Target, b: &Target) -> bool {
    match (a, b) {
        (
            Target::Instance {
                service: s1,
                index: i1,
            },
            Target::Instance {
                service: s2,
                index: i2,
            },
        ) => s1 == s2 && i1 == i2,
        _ => a.service() == b.service(),
    }
}

/// `"ledger"` (a service), `"ledger-2"` (an instance), `"ledger:1"` (picked by the seed).
///
/// A whole-string service name wins over `<service>-<n>`, since names may hold `-`;
/// the service checks refuse a name that would shadow an instance.
pub(super) fn resolve(
    text: &Spanned<String>,
    key: &str,
    services: &IndexMap<String, Service>,
) -> Result<Target, Diag> {
    let name = text.get_ref().as_str();
    let span = text.span();
    if services.contains_key(name) {
        return Ok(Target::Service(name.to_string()));
    }
    let instances = |service: &Service| match service.replicas {
        1 => format!("its only instance is `{}-1`", service.name),
        n => format!("its instances are `{0}-1` to `{0}-{n}`", service.name),
    };
    let replicas = |service: &Service| match service.replicas {
        1 => "1 replica".to_string(),
        n => format!("{n} replicas"),
    };
    if let Some((base, count)) = name.split_once(':') {
        let Some(service) = services.get(base) else {
            return Err(unknown_service(base, span, key, services));
        };
        let pick_hint = format!("pick between 1 and {} instances", service.replicas);
        let count = number(count).ok_or_else(|| {
            Diag::new(span.clone(), format!("`{name}` is not a target")).hint(format!(
                "`{base}:N` picks N instances of `{base}`; {pick_hint}"
            ))
        })?;
        if count == 0 || count > u64::from(service.replicas) {
            return Err(Diag::new(
                span,
                format!(
                    "`{name}` picks {count} instances but `{base}` has {}",
                    replicas(service)
                ),
            )
            .hint(pick_hint));
        }
        return Ok(Target::Pick {
            service: base.to_string(),
            count: count as u32, // at most `replicas`, a u32
        });
    }
    if let Some((base, index)) = name.rsplit_once('-') {
        if let (Some(service), Some(index)) = (services.get(base), number(index)) {
            if index == 0 || index > u64::from(service.replicas) {
                return Err(Diag::new(
                    span,
                    format!(
                        "instance `{name}` does not exist: `{base}` has {}",
                        replicas(service)
                    ),
                )
                .hint(format!(
                    "instances are numbered from 1; {}",
                    instances(service)
                )));
            }
            return Ok(Target::Instance {
                service: base.to_string(),
                index: index as u32, // at most `replicas`, a u32
            });
        }
    }
    Err(unknown_service(name, span, key, services))
}

/// A count or index as a target spells it: digits, no sign, no leading zero, so the
/// target's `Display` gives back the same text.
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, BASE};

    /// BASE (10 lines) plus one fault whose `kind` is on line 12.
    fn fault(body: &str) -> String {
        format!("{BASE}[[faults]]\n{body}\n")
    }

    #[test]
    fn kinds_keys_and_timing_are_checked() {
        check(&[
            (
                &fault("kind = \"latncy\"\ntarget = \"ledger-1\"\nat = \"1s\""),
                "t.toml:12:8: unknown fault kind `latncy`\n  (hint: expected one of `kill`, `restart`, `pause`, `latency`, `loss`, `partition`, `isolate`, `error`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\"\nat = \"1s\"\ndelay = \"5ms\""),
                "t.toml:15:9: `delay` does not apply to a `kill` fault\n  (hint: a `kill` fault takes `target`, `at` and `for`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\"\nat = \"1s\"\nduration = \"5s\""),
                "t.toml:15:1: unknown key `duration`\n  (hint: expected one of `kind`, `target`, `between`, `at`, `for`, `delay`, `jitter`, `rate`, `direction`, `status`, `mode`)",
            ),
            (
                &fault("kind = \"restart\"\ntarget = \"ledger-1\"\nat = \"1s\"\nfor = \"5s\""),
                "t.toml:15:7: a `restart` fault takes no `for`\n  (hint: use `kill` with `for` for a downtime)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\""),
                "t.toml:12:8: missing required key `at`\n  (hint: when the fault starts, like `at = \"10s\"`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\"\nat = \"60s\""),
                "t.toml:14:6: fault at 60s starts after the 60s run\n  (hint: `at` must be less than `duration`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\"\nat = \"50s\"\nfor = \"20s\""),
                "t.toml:15:7: fault at 50s for 20s ends after the 60s run\n  (hint: shorten `for`, or omit it to last until the end)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-1\"\nat = \"5s\"\nfor = \"0s\""),
                "t.toml:15:7: `for` must be greater than 0\n  (hint: omit it to last until the end)",
            ),
            (
                &fault("kind = \"pause\"\nat = \"5s\""),
                "t.toml:12:8: a `pause` fault needs `target`\n  (hint: like `target = \"ledger-1\"`)",
            ),
        ]);
    }

    #[test]
    fn targets_are_resolved() {
        check(&[
            (
                &fault("kind = \"kill\"\ntarget = \"ledgr-1\"\nat = \"1s\""),
                "t.toml:13:10: unknown service `ledgr-1` in `target`\n  (hint: known services: `gateway`, `ledger`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-4\"\nat = \"1s\""),
                "t.toml:13:10: instance `ledger-4` does not exist: `ledger` has 3 replicas\n  (hint: instances are numbered from 1; its instances are `ledger-1` to `ledger-3`)",
            ),
            (
                &fault("kind = \"isolate\"\ntarget = \"ledger-0\"\nat = \"1s\""),
                "t.toml:13:10: instance `ledger-0` does not exist: `ledger` has 3 replicas\n  (hint: instances are numbered from 1; its instances are `ledger-1` to `ledger-3`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger:4\"\nat = \"1s\""),
                "t.toml:13:10: `ledger:4` picks 4 instances but `ledger` has 3 replicas\n  (hint: pick between 1 and 3 instances)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger-02\"\nat = \"1s\""),
                "t.toml:13:10: unknown service `ledger-02` in `target`\n  (hint: known services: `gateway`, `ledger`)",
            ),
            (
                &fault("kind = \"kill\"\ntarget = \"ledger:one\"\nat = \"1s\""),
                "t.toml:13:10: `ledger:one` is not a target\n  (hint: `ledger:N` picks N instances of `ledger`; pick between 1 and 3 instances)",
            ),
            (
                &fault("kind = \"latency\"\nbetween = [\"gateway\", \"ledgr\"]\ndelay = \"5ms\"\nat = \"1s\""),
                "t.toml:13:23: unknown service `ledgr` in `between`\n  (hint: known services: `gateway`, `ledger`)",
            ),
        ]);
    }

    #[test]
    fn link_faults_are_checked() {
        check(&[
            (
                &fault("kind = \"latency\"\ndelay = \"5ms\"\nat = \"1s\""),
                "t.toml:12:8: a `latency` fault needs `target` or `between`\n  (hint: `target = \"fraud-2\"` for what an instance sends, `between = [\"a\", \"b\"]` for one link)",
            ),
            (
                &fault("kind = \"loss\"\ntarget = \"ledger\"\nbetween = [\"gateway\", \"ledger\"]\nrate = 0.1\nat = \"1s\""),
                "t.toml:14:11: a `loss` fault takes `target` or `between`, not both",
            ),
            (
                &fault("kind = \"latency\"\nbetween = [\"gateway\"]\ndelay = \"5ms\"\nat = \"1s\""),
                "t.toml:13:11: `between` takes two targets\n  (hint: like `between = [\"card-api\", \"ledger\"]`; a `latency` fault's link has two ends)",
            ),
            (
                &fault("kind = \"latency\"\ntarget = \"ledger-2\"\nat = \"1s\""),
                "t.toml:12:8: a `latency` fault needs `delay`\n  (hint: like `delay = \"150ms\"`)",
            ),
            (
                &fault("kind = \"loss\"\ntarget = \"ledger-2\"\nrate = 0\nat = \"1s\""),
                "t.toml:14:8: `rate` must be greater than 0 and at most 1, found 0",
            ),
            (
                &fault("kind = \"error\"\ntarget = \"ledger\"\nstatus = 700\nat = \"1s\""),
                "t.toml:14:10: `status` must be between 100 and 599, found 700",
            ),
        ]);
    }

    #[test]
    fn partitions_are_checked() {
        check(&[
            (
                &fault("kind = \"partition\"\nat = \"1s\""),
                "t.toml:12:8: a `partition` fault needs `between`\n  (hint: like `between = [[\"card-api\"], [\"merchant\"]]`)",
            ),
            (
                &fault("kind = \"partition\"\nbetween = [[\"gateway\"], []]\nat = \"1s\""),
                "t.toml:13:25: side 2 of the partition is empty\n  (hint: each side needs at least one target)",
            ),
            (
                &fault("kind = \"partition\"\nbetween = [[\"gateway\", \"ledger-1\"], [\"ledger-2\", \"ledger-1\"]]\nat = \"1s\""),
                "t.toml:13:50: `ledger-1` is on both sides of the partition\n  (hint: an instance cannot be cut off from itself)",
            ),
            (
                &fault("kind = \"partition\"\nbetween = [[\"ledger\"], [\"ledger-2\"]]\nat = \"1s\""),
                "t.toml:13:25: `ledger` and `ledger-2` may share instances across the partition\n  (hint: an instance cannot be cut off from itself)",
            ),
            (
                &fault("kind = \"partition\"\nbetween = [[\"gateway\"], [\"ledger\"], [\"x\"]]\nat = \"1s\""),
                "t.toml:13:11: a partition has two sides\n  (hint: like `between = [[\"card-api\"], [\"merchant\"]]`)",
            ),
            (
                &fault("kind = \"partition\"\nbetween = [[\"gateway\"], [\"ledger\"]]\ndirection = \"inbound\"\nat = \"1s\""),
                "t.toml:14:13: unknown direction `inbound`\n  (hint: expected `both` or `one-way`)",
            ),
        ]);
    }

    #[test]
    fn every_kind_builds() {
        use crate::scenario::model::{FaultKind, LinkScope, Target};
        use std::time::Duration;
        let text = format!(
            "{BASE}{}",
            [
                "kind = \"restart\"\ntarget = \"ledger:2\"\nat = \"1s\"",
                "kind = \"pause\"\ntarget = \"ledger\"\nat = \"1s\"\nfor = \"1s\"",
                "kind = \"isolate\"\ntarget = \"gateway-2\"\nat = \"1s\"",
                "kind = \"latency\"\nbetween = [\"gateway\", \"ledger-3\"]\ndelay = \"5ms\"\nat = \"1s\"",
                "kind = \"loss\"\ntarget = \"ledger-1\"\nrate = 0.05\nat = \"1s\"",
                "kind = \"partition\"\nbetween = [\"gateway\", [\"ledger-1\", \"ledger-2\"]]\ndirection = \"one-way\"\nat = \"1s\"",
                "kind = \"error\"\ntarget = \"ledger\"\nstatus = 503\nat = \"1s\"",
                "kind = \"error\"\ntarget = \"ledger\"\nrate = 0.5\nat = \"1s\"",
            ]
            .map(|f| format!("[[faults]]\n{f}\n"))
            .concat()
        );
        let scenario = crate::scenario::parse(&text, std::path::Path::new("t.toml")).unwrap();
        let kinds: Vec<FaultKind> = scenario.faults.iter().map(|f| f.kind.clone()).collect();
        let svc = |s: &str| Target::Service(s.into());
        let inst = |s: &str, index| Target::Instance {
            service: s.into(),
            index,
        };
        assert_eq!(
            kinds,
            [
                FaultKind::Restart {
                    target: Target::Pick {
                        service: "ledger".into(),
                        count: 2
                    }
                },
                FaultKind::Pause {
                    target: svc("ledger")
                },
                FaultKind::Isolate {
                    target: inst("gateway", 2)
                },
                FaultKind::Latency {
                    scope: LinkScope::Between(svc("gateway"), inst("ledger", 3)),
                    delay: Duration::from_millis(5),
                    jitter: Duration::ZERO,
                },
                FaultKind::Loss {
                    scope: LinkScope::Instance(inst("ledger", 1)),
                    rate: 0.05
                },
                FaultKind::Partition {
                    sides: (
                        vec![svc("gateway")],
                        vec![inst("ledger", 1), inst("ledger", 2)]
                    ),
                    one_way: true,
                },
                FaultKind::Error {
                    target: svc("ledger"),
                    status: 503,
                    rate: 1.0
                },
                FaultKind::Error {
                    target: svc("ledger"),
                    status: 500,
                    rate: 0.5
                },
            ]
        );
        let lines: Vec<usize> = scenario.faults.iter().map(|f| f.line).collect();
        assert_eq!(lines, [12, 16, 21, 25, 30, 35, 40, 45]);
        assert_eq!(scenario.faults[0].until, None);
        assert_eq!(scenario.faults[1].until, Some(Duration::from_secs(2)));
    }
}
