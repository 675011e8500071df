//! `[[invariants]]` entries: kind, keys that apply to it, ranges, windows.

use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;
use serde_spanned::Spanned;

use super::{a, at_most, check_keys, choice, duration, fraction, known_service, wait};
use crate::scenario::duration::{format_duration, parse_duration};
use crate::scenario::error::{line_col, Diag};
use crate::scenario::limits::MAX_DURATION;
use crate::scenario::model::{Invariant, InvariantKind, Service, Window};
use crate::scenario::raw::{DurationText, RawInvariant};

const KINDS: &[&str] = &[
    "answered",
    "latency",
    "success",
    "recovery",
    "amplification",
    "wasted_work",
];

/// Keys each kind takes besides `kind`.
fn keys_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "answered" => &["max_ratio"],
        "latency" => &["percentile", "max", "during"],
        "success" => &["min", "degraded", "during"],
        "recovery" => &["within"],
        "wasted_work" => &["max_ratio"],
        _ => &["service", "max"],
    }
}

pub(super) fn invariant(
    raw: RawInvariant,
    run: Duration,
    services: &IndexMap<String, Service>,
    text: &str,
) -> Result<Invariant, Diag> {
    let kind = raw.kind.get_ref().as_str();
    let kind_span = raw.kind.span();
    if !KINDS.contains(&kind) {
        let names: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
        return Err(
            Diag::new(kind_span, format!("unknown invariant kind `{kind}`"))
                .hint(format!("expected one of {}", names.join(", "))),
        );
    }
    check_keys(&raw.present(), keys_of(kind), kind, "invariant")?;
    let need = |key: &str, hint: &str| {
        Diag::new(
            kind_span.clone(),
            format!("{} invariant needs `{key}`", a(kind)),
        )
        .hint(hint.to_string())
    };
    let during = raw
        .during
        .as_ref()
        .map_or(Ok(Window::All), |w| window(w, run))?;
    let kind = match kind {
        "answered" => {
            let max_ratio = raw
                .max_ratio
                .as_ref()
                .map_or(Ok(0.0), |r| fraction(r, "max_ratio", true))?;
            InvariantKind::Answered { max_ratio }
        }
        "wasted_work" => {
            let max_ratio = raw
                .max_ratio
                .as_ref()
                .map_or(Ok(0.0), |r| fraction(r, "max_ratio", true))?;
            InvariantKind::WastedWork { max_ratio }
        }
        "latency" => {
            let percentile = raw
                .percentile
                .as_ref()
                .ok_or_else(|| need("percentile", "like `percentile = 99.0`"))?;
            let p = *percentile.get_ref();
            if !(p > 0.0 && p <= 100.0) {
                return Err(Diag::new(
                    percentile.span(),
                    format!("`percentile` must be greater than 0 and at most 100, found {p}"),
                ));
            }
            let max = raw
                .max
                .as_ref()
                .ok_or_else(|| need("max", "like `max = \"100ms\"`"))?;
            let text = match max.get_ref() {
                toml::Value::String(s) => s.clone(),
                // A bare number fails for want of a unit, which is the useful message.
                toml::Value::Integer(_) | toml::Value::Float(_) => max.get_ref().to_string(),
                other => {
                    let message = format!("`max` must be a duration, found {}", other.type_str());
                    return Err(Diag::new(max.span(), message).hint("like `max = \"100ms\"`"));
                }
            };
            let max = wait(&Spanned::new(max.span(), DurationText(text)), "max")?;
            InvariantKind::Latency {
                percentile: p,
                max,
                during,
            }
        }
        "success" => {
            let min = raw
                .min
                .as_ref()
                .ok_or_else(|| need("min", "the fraction that must succeed, like `min = 0.999`"))?;
            let degraded = [("success", true), ("failure", false)];
            let degraded_is_success = raw
                .degraded
                .as_ref()
                .map_or(Ok(true), |d| choice(d, "`degraded` value", &degraded))?;
            InvariantKind::Success {
                min: fraction(min, "min", true)?,
                degraded_is_success,
                during,
            }
        }
        "recovery" => {
            let within = raw
                .within
                .as_ref()
                .ok_or_else(|| need("within", "like `within = \"5s\"`"))?;
            let within_duration = at_most(duration(within)?, within, "within", MAX_DURATION)?;
            if within_duration.is_zero() {
                return Err(Diag::new(within.span(), "`within` must be greater than 0"));
            }
            InvariantKind::Recovery {
                within: within_duration,
            }
        }
        _ => {
            let service = raw
                .service
                .as_ref()
                .ok_or_else(|| need("service", "like `service = \"ledger\"`"))?;
            let service = known_service(service, "service", services)?.name.clone();
            let max = raw
                .max
                .as_ref()
                .ok_or_else(|| need("max", "calls per offered request, like `max = 1.5`"))?;
            let value = match max.get_ref() {
                toml::Value::Float(v) => *v,
                toml::Value::Integer(v) => *v as f64,
                other => {
                    return Err(Diag::new(
                        max.span(),
                        format!("`max` must be a number, found {other}"),
                    )
                    .hint("calls reaching the service per request offered, like `max = 1.5`"));
                }
            };
            if !(value > 0.0 && value.is_finite()) {
                return Err(Diag::new(
                    max.span(),
                    format!("`max` must be greater than 0, found {value}"),
                ));
            }
            InvariantKind::Amplification {
                service,
                max: value,
            }
        }
    };
    Ok(Invariant {
        kind,
        line: line_col(text, raw.kind.span().start).0,
    })
}

const WINDOWS: &[(&str, Window)] = &[
    ("all", Window::All),
    ("baseline", Window::Baseline),
    ("faults", Window::Faults),
    ("recovery", Window::Recovery),
];

/// `all`, `baseline`, `faults`, `recovery` or `"20s..40s"` inside the run.
fn window(raw: &Spanned<String>, run: Duration) -> Result<Window, Diag> {
    let span = raw.span();
    let Some((start_text, end_text)) = raw.get_ref().split_once("..") else {
        return choice(raw, "window", WINDOWS).map_err(|diag| {
            let hint = diag.hint.clone().unwrap_or_default();
            diag.hint(format!("{hint}, or a range like \"20s..40s\""))
        });
    };
    let bound = |text: &str, span: Range<usize>| {
        parse_duration(text).map_err(|e| Diag {
            span,
            message: e.message,
            hint: Some(
                e.hint
                    .unwrap_or_else(|| "write a range like \"20s..40s\"".into()),
            ),
        })
    };
    let (start, end) = (
        bound(start_text, span.clone())?,
        bound(end_text, span.clone())?,
    );
    if start >= end {
        return Err(Diag::new(
            span,
            format!("window `{}` must end after it starts", raw.get_ref()),
        ));
    }
    if end > run {
        let run = format_duration(run);
        return Err(Diag::new(
            span,
            format!("window `{}` ends after the {run} run", raw.get_ref()),
        ));
    }
    Ok(Window::Range(start, end))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, BASE};

    /// BASE (10 lines) plus one invariant whose `kind` is on line 12.
    fn invariant(body: &str) -> String {
        format!("{BASE}[[invariants]]\n{body}\n")
    }

    #[test]
    fn invariants_are_checked() {
        check(&[
            (
                &invariant("kind = \"answerd\""),
                "t.toml:12:8: unknown invariant kind `answerd`\n  (hint: expected one of `answered`, `latency`, `success`, `recovery`, `amplification`, `wasted_work`)",
            ),
            (
                &invariant("kind = \"answered\"\nmax_ratio = 1.5"),
                "t.toml:13:13: `max_ratio` must be between 0 and 1, found 1.5",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 0\nmax = \"100ms\""),
                "t.toml:13:14: `percentile` must be greater than 0 and at most 100, found 0",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 100.5\nmax = \"100ms\""),
                "t.toml:13:14: `percentile` must be greater than 0 and at most 100, found 100.5",
            ),
            (
                &invariant("kind = \"latency\"\nmax = \"100ms\""),
                "t.toml:12:8: a `latency` invariant needs `percentile`\n  (hint: like `percentile = 99.0`)",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 99\nmax = 100"),
                "t.toml:14:7: expected a duration with a unit, like \"150ms\" or \"2s\"\n  (hint: `100` has no unit; write \"100ms\" or \"100s\")",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 99\nmax = \"100ms\"\nwithin = \"5s\""),
                "t.toml:15:10: `within` does not apply to a `latency` invariant\n  (hint: a `latency` invariant takes `percentile`, `max` and `during`)",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 99\nmax = \"100ms\"\nduring = \"fault\""),
                "t.toml:15:10: unknown window `fault`\n  (hint: expected one of `all`, `baseline`, `faults`, `recovery`, or a range like \"20s..40s\")",
            ),
            (
                &invariant("kind = \"success\"\nmin = 0.99\nduring = \"40s..20s\""),
                "t.toml:14:10: window `40s..20s` must end after it starts",
            ),
            (
                &invariant("kind = \"success\"\nmin = 0.99\nduring = \"20s..70s\""),
                "t.toml:14:10: window `20s..70s` ends after the 60s run",
            ),
            (
                &invariant("kind = \"success\"\nmin = 0.99\nduring = \"20..40s\""),
                "t.toml:14:10: expected a duration with a unit, like \"150ms\" or \"2s\"\n  (hint: `20` has no unit; write \"20ms\" or \"20s\")",
            ),
            (
                &invariant("kind = \"latency\"\npercentile = 99\nmax = [\"100ms\"]"),
                "t.toml:14:7: `max` must be a duration, found array\n  (hint: like `max = \"100ms\"`)",
            ),
            (
                &invariant("kind = \"amplification\"\nmax = 2"),
                "t.toml:12:8: an `amplification` invariant needs `service`\n  (hint: like `service = \"ledger\"`)",
            ),
            (
                &invariant("kind = \"success\"\nmin = 1.01"),
                "t.toml:13:7: `min` must be between 0 and 1, found 1.01",
            ),
            (
                &invariant("kind = \"success\"\nmin = 0.9\ndegraded = \"partial\""),
                "t.toml:14:12: unknown `degraded` value `partial`\n  (hint: expected `success` or `failure`)",
            ),
            (
                &invariant("kind = \"recovery\"\nwithin = \"0s\""),
                "t.toml:13:10: `within` must be greater than 0",
            ),
            (
                &invariant("kind = \"amplification\"\nservice = \"ledgr\"\nmax = 1.5"),
                "t.toml:13:11: unknown service `ledgr` in `service`\n  (hint: known services: `gateway`, `ledger`)",
            ),
            (
                &invariant("kind = \"amplification\"\nservice = \"ledger\"\nmax = \"1.5\""),
                "t.toml:14:7: `max` must be a number, found \"1.5\"\n  (hint: calls reaching the service per request offered, like `max = 1.5`)",
            ),
        ]);
    }

    #[test]
    fn windows_parse() {
        use crate::scenario::model::{InvariantKind, Window};
        use std::time::Duration;
        let cases = [
            ("all", Window::All),
            ("baseline", Window::Baseline),
            ("faults", Window::Faults),
            ("recovery", Window::Recovery),
            (
                "20s..40s",
                Window::Range(Duration::from_secs(20), Duration::from_secs(40)),
            ),
            (
                "500ms..60s",
                Window::Range(Duration::from_millis(500), Duration::from_secs(60)),
            ),
        ];
        for (text, expected) in cases {
            let scenario = format!(
                "{BASE}[[invariants]]\nkind = \"success\"\nmin = 0.5\nduring = \"{text}\"\n"
            );
            let scenario =
                crate::scenario::parse(&scenario, std::path::Path::new("t.toml")).unwrap();
            let during = match &scenario.invariants[0].kind {
                InvariantKind::Success { during, .. } => *during,
                other => panic!("{other:?}"),
            };
            assert_eq!(during, expected, "{text}");
        }
    }
}
