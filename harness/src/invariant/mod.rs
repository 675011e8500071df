//! Invariants: judging a run record against the scenario's `[[invariants]]`.
//!
//! Checkers only read a [`RunRecord`] and its [`Figures`], never the backend,
//! so the same invariant means the same thing in the simulator and on Docker.
//! The figures are streamed during the run ([`figures`]: one accumulator per
//! phase and per invariant window, known before the run starts), so judging a
//! run of any length takes memory that does not grow with its requests. Each verdict
//! carries its figure, its limit and, when it failed, the one-second window
//! where it was worst: the first place a person looks.
//!
//! A check that finds no request to judge (a `faults` window in a run without
//! faults, say) fails and says so: a check that checked nothing must not pass
//! silently.

pub mod figures;
mod phase;
mod verdict;

use std::time::Duration;

pub use figures::{
    Bucket, Exemplar, FailureKind, Figures, HopKey, InvariantFigures, RecoveryBounds,
    RecoveryFigures, RecoveryWindow, WindowFigures, FIRST_FAILURES, SLOWEST,
};
pub use phase::{window_name, within, Phases};
pub use verdict::{Unit, Verdict, VerdictKind};

use crate::record::RunRecord;
use crate::report::fmt_duration;
use crate::scenario::{InvariantId, InvariantKind, Scenario, Window};
use crate::stats::ms;

/// Judges every invariant of `scenario` on `record`, in file order: on the
/// figures the backend streamed, or (a record without them: Docker, tests) on
/// figures worked out from its requests and traces.
pub fn evaluate(scenario: &Scenario, record: &RunRecord) -> Vec<Verdict> {
    evaluate_blind(scenario, record, &Blind::default())
}

/// Services squall cannot see inside beyond those [`evaluate`] knows of (a
/// Docker image of a team's own): code services run without squall's server
/// layer ([`crate::service`]), which keep no spans and count no requests.
#[derive(Debug, Clone, Default)]
pub struct Blind {
    code: Vec<String>,
}

impl Blind {
    /// `service` is code that does not use squall's server layer.
    pub fn code_without_layer(&mut self, service: &str) {
        self.code.push(service.to_owned());
    }
}

/// Why squall cannot see inside a service.
enum Unseen<'a> {
    /// A Docker image of its own.
    Image(&'a str),
    /// Code without squall's server layer.
    Code,
    /// A game day's container: squall reads nothing from what it did not start.
    Attached,
}

/// [`evaluate`], with the code services in `blind` not measured.
pub fn evaluate_blind(scenario: &Scenario, record: &RunRecord, blind: &Blind) -> Vec<Verdict> {
    match &record.figures {
        Some(figures) => judge(scenario, record, figures, blind),
        None => judge(
            scenario,
            record,
            &Figures::of_record(scenario, record),
            blind,
        ),
    }
}

fn judge(
    scenario: &Scenario,
    record: &RunRecord,
    figures: &Figures,
    blind_code: &Blind,
) -> Vec<Verdict> {
    let unseen = |service: &str| -> Option<Unseen<'_>> {
        if blind_code.code.iter().any(|s| s == service) {
            return Some(Unseen::Code);
        }
        if record.backend == crate::engine::BackendKind::Gameday {
            return Some(Unseen::Attached);
        }
        unmeasured(scenario, record, service).map(Unseen::Image)
    };
    let run = InvariantFigures::Run;
    scenario
        .invariants
        .iter()
        .enumerate()
        .map(|(i, inv)| {
            let id = InvariantId(i);
            let f = figures.invariants.get(i).unwrap_or(&run);
            match (&inv.kind, f) {
                (InvariantKind::Answered { max_ratio }, InvariantFigures::Window(w)) => {
                    answered(id, w, *max_ratio)
                }
                (
                    InvariantKind::Latency {
                        percentile,
                        max,
                        during,
                    },
                    InvariantFigures::Window(w),
                ) => latency(id, w, *percentile, *max, during),
                (
                    InvariantKind::Success {
                        min,
                        degraded_is_success,
                        during,
                    },
                    InvariantFigures::Window(w),
                ) => success(id, w, *min, *degraded_is_success, during),
                (InvariantKind::Recovery { within }, InvariantFigures::Recovery(r)) => {
                    recovery(id, record, figures, r, *within)
                }
                (InvariantKind::Amplification { service, max }, _) => match unseen(service) {
                    Some(why) => amplification_not_measured(id, service, why, *max),
                    None => amplification(id, record, figures, service, *max),
                },
                (InvariantKind::WastedWork { max_ratio }, _) => {
                    let blind: Vec<String> = scenario
                        .services
                        .keys()
                        .filter(|s| unseen(s).is_some())
                        .cloned()
                        .collect();
                    let code = !blind_code.code.is_empty();
                    wasted_work(id, record, figures, *max_ratio, &blind, code)
                }
                // `Figures::new` gives each invariant the figures of its kind.
                (_, _) => unreachable!("figures of another kind for invariant {i}"),
            }
        })
        .collect()
}

fn span_name(w: (Duration, Duration)) -> String {
    format!("{}..{}", fmt_duration(w.0), fmt_duration(w.1))
}

fn nothing_to_judge(
    id: InvariantId,
    kind: VerdictKind,
    label: String,
    unit: Unit,
    during: String,
    limit: f64,
) -> Verdict {
    Verdict {
        id,
        kind,
        message: format!(
            "no requests fell in the `{during}` window after warm-up: nothing to judge"
        ),
        label,
        held: false,
        observed: None,
        limit,
        unit,
        during,
        worst_window: None,
    }
}

fn answered(id: InvariantId, w: &WindowFigures, max_ratio: f64) -> Verdict {
    if w.tally.is_empty() {
        return nothing_to_judge(
            id,
            VerdictKind::Answered,
            "answered".into(),
            Unit::Ratio,
            "all".into(),
            max_ratio,
        );
    }
    let s = w.tally.summary();
    let ratio = s.timeouts as f64 / s.requests as f64;
    let held = ratio <= max_ratio;
    let worst = w
        .buckets
        .iter()
        .map(|b| (b.window, b.timeouts))
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(w, n)| (*n, std::cmp::Reverse(w.0)));
    let mut message = format!(
        "{} of {} requests timed out ({} {} max {})",
        thousands(s.timeouts),
        thousands(s.requests),
        pct(ratio),
        if held { "<=" } else { ">" },
        pct(max_ratio)
    );
    if let (false, Some((w, n))) = (held, worst) {
        message.push_str(&format!(
            " (worst window {}: {} timed out)",
            span_name(w),
            thousands(n)
        ));
    }
    Verdict {
        id,
        kind: VerdictKind::Answered,
        label: "answered".into(),
        held,
        observed: Some(ratio),
        limit: max_ratio,
        unit: Unit::Ratio,
        during: "all".into(),
        worst_window: worst.filter(|_| !held).map(|(w, _)| span_name(w)),
        message,
    }
}

fn latency(id: InvariantId, w: &WindowFigures, p: f64, max: Duration, during: &Window) -> Verdict {
    let label = format!("latency p{}", trim_float(p));
    let name = window_name(during);
    if w.tally.is_empty() {
        return nothing_to_judge(id, VerdictKind::Latency, label, Unit::Ms, name, ms(max));
    }
    let observed = w.tally.percentile(p);
    let held = observed <= max;
    let worst = w
        .buckets
        .iter()
        .map(|b| (b.window, b.percentile))
        .max_by_key(|(w, l)| (*l, std::cmp::Reverse(w.0)));
    let mut message = format!(
        "p{} {} {} {} during {name}",
        trim_float(p),
        fmt_duration(observed),
        if held { "<=" } else { ">" },
        fmt_duration(max)
    );
    if let (false, Some((w, l))) = (held, worst) {
        message.push_str(&format!(
            " (worst window {}: {})",
            span_name(w),
            fmt_duration(l)
        ));
    }
    Verdict {
        id,
        kind: VerdictKind::Latency,
        label,
        held,
        observed: Some(ms(observed)),
        limit: ms(max),
        unit: Unit::Ms,
        during: name,
        worst_window: worst.filter(|_| !held).map(|(w, _)| span_name(w)),
        message,
    }
}

fn success(
    id: InvariantId,
    w: &WindowFigures,
    min: f64,
    degraded_is_success: bool,
    during: &Window,
) -> Verdict {
    let name = window_name(during);
    if w.tally.is_empty() {
        return nothing_to_judge(
            id,
            VerdictKind::Success,
            "success".into(),
            Unit::Ratio,
            name,
            min,
        );
    }
    let s = w.tally.summary();
    let ratio = s.success_ratio(degraded_is_success);
    let held = ratio >= min;
    let worst = w
        .buckets
        .iter()
        .map(|b| (b.window, b.success))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0 .0.cmp(&b.0 .0)));
    let mut message = format!(
        "{} succeeded {} {} during {name} ({} ok, {} degraded {}, {} errors, {} failed, {} timed out)",
        pct(ratio),
        if held { ">=" } else { "<" },
        pct(min),
        thousands(s.ok),
        thousands(s.degraded),
        if degraded_is_success { "counted ok" } else { "counted failed" },
        thousands(s.errors),
        thousands(s.failed),
        thousands(s.timeouts),
    );
    if let (false, Some((w, r))) = (held, worst) {
        message.push_str(&format!(" (worst window {}: {})", span_name(w), pct(r)));
    }
    Verdict {
        id,
        kind: VerdictKind::Success,
        label: "success".into(),
        held,
        observed: Some(ratio),
        limit: min,
        unit: Unit::Ratio,
        during: name,
        worst_window: worst.filter(|_| !held).map(|(w, _)| span_name(w)),
        message,
    }
}

fn recovery(
    id: InvariantId,
    record: &RunRecord,
    figures: &Figures,
    r: &RecoveryFigures,
    within_d: Duration,
) -> Verdict {
    let phases = &figures.phases;
    let fail = |message: String| Verdict {
        id,
        kind: VerdictKind::Recovery,
        label: "recovery".into(),
        held: false,
        observed: None,
        limit: within_d.as_secs_f64(),
        unit: Unit::S,
        during: "recovery".into(),
        worst_window: None,
        message,
    };
    let Some(heal) = phases.last_heal else {
        return fail(if record.faults.is_empty() {
            "no fault in the run: nothing to recover from".into()
        } else {
            "a fault lasts to the end of the run: recovery cannot be judged (hint: give every fault a `for`)".into()
        });
    };
    // The baseline phase's figures: the same requests the report's `baseline` counts.
    let baseline = &figures.phase_figures[0].tally;
    if baseline.is_empty() {
        return fail(
            "no baseline before the first fault to recover to (hint: start faults after `warmup`)"
                .into(),
        );
    }
    // The bounds the windows' slow requests were counted against.
    let bounds = r
        .bounds
        .unwrap_or_else(|| RecoveryBounds::of(&baseline.summary()));
    let base_p99 = bounds.base_p99;
    // One-second windows from the heal on. The run has recovered from the
    // first window from which the rest of the run, taken together, is within
    // the bounds: one noisy second near the end (a few slow requests of fifty
    // make a window's p99 its maximum) does not undo a recovery the seconds
    // around it show, while a window that is itself out of bounds before a
    // recovered tail still marks the recovery as later.
    let windows = &r.windows;
    let (mut requests, mut slow, mut succeeded) = (0, 0, 0);
    let mut first_good_tail = windows.len();
    for (i, w) in windows.iter().enumerate().rev() {
        requests += w.requests;
        slow += w.slow;
        succeeded += w.succeeded;
        if bounds.hold(requests, slow, succeeded) {
            first_good_tail = i;
        }
    }
    let after = match windows.get(first_good_tail) {
        Some(w) => w.window.0 - heal,
        None => {
            let worst = windows.last().map(|w| {
                format!(
                    " (last window {}: p99 {}, success {})",
                    span_name(w.window),
                    fmt_duration(w.p99),
                    pct(w.success())
                )
            });
            return Verdict {
                worst_window: windows.last().map(|w| span_name(w.window)),
                ..fail(format!(
                    "not recovered by the end of the run, {} after the last heal at {}: baseline p99 {}, success {}{}",
                    fmt_duration(phases.end - heal),
                    fmt_duration(heal),
                    fmt_duration(base_p99),
                    pct(bounds.base_success),
                    worst.unwrap_or_default()
                ))
            };
        }
    };
    let held = after <= within_d;
    // Windows are whole seconds from the heal, so `after` is too: recovery is
    // known to the second, and "0ms" would claim a precision it does not have.
    let when = if after.is_zero() {
        "in the first second".to_owned()
    } else {
        fmt_duration(after)
    };
    let mut message = format!(
        "recovered {when} after the last heal at {} ({} {}; baseline p99 {}, success {})",
        fmt_duration(heal),
        if held { "within" } else { "later than" },
        fmt_duration(within_d),
        fmt_duration(base_p99),
        pct(bounds.base_success),
    );
    let worst = if held {
        None
    } else {
        let w = windows[first_good_tail - 1];
        message.push_str(&format!(
            " (last bad window {}: p99 {}, success {})",
            span_name(w.window),
            fmt_duration(w.p99),
            pct(w.success())
        ));
        Some(span_name(w.window))
    };
    Verdict {
        id,
        kind: VerdictKind::Recovery,
        label: "recovery".into(),
        held,
        observed: Some(after.as_secs_f64()),
        limit: within_d.as_secs_f64(),
        unit: Unit::S,
        during: "recovery".into(),
        worst_window: worst,
        message,
    }
}

/// The image `service` runs when squall cannot see inside it: on Docker, an
/// image that is not squall's fixture keeps no request counter and no spans.
/// `None` in the simulator, where every service is squall's model.
/// The image of its own `service` runs on Docker, when none of its
/// instances counted what reached it: an image that serves squall's admin
/// endpoints (a code service built with `Context::from_env` and squall's
/// layer) is measured like the fixture.
fn unmeasured<'a>(scenario: &'a Scenario, record: &RunRecord, service: &str) -> Option<&'a str> {
    if record.backend == crate::engine::BackendKind::Sim
        || record.received.get(service).is_some_and(|r| !r.is_empty())
    {
        return None;
    }
    crate::docker::own_image(scenario, scenario.services.get(service)?)
}

/// Amplification at a service squall cannot count the calls of: not
/// measured, so not held (a check that checked nothing must not pass).
fn amplification_not_measured(
    id: InvariantId,
    service: &str,
    why: Unseen<'_>,
    max: f64,
) -> Verdict {
    let message = match why {
        Unseen::Image(image) => format!(
            "not measured: `{service}` runs image `{image}`, which keeps no count of the calls \
             that reach it (squall's fixture serves `/squall/stats`, and so does code built with \
             `Context::from_env` and squall's layer); the load driver only sees the workload's \
             requests (hint: judge amplification at a service squall runs, the \
             caller of `{service}`)"
        ),
        Unseen::Code => format!(
            "not measured: `{service}` is code without squall's server layer, so nothing counts \
             the calls that reach it (hint: add `.layer(ctx.layer())` to its router and provide \
             it with `service`)"
        ),
        Unseen::Attached => format!(
            "not measured: on a game day squall reads no counters from `{service}`'s containers \
             (it did not start them); the load driver only sees the workload's requests"
        ),
    };
    Verdict {
        id,
        kind: VerdictKind::Amplification,
        label: format!("amplification {service}"),
        held: false,
        observed: None,
        limit: max,
        unit: Unit::CallsPerRequest,
        during: "all".into(),
        worst_window: None,
        message,
    }
}

fn amplification(
    id: InvariantId,
    record: &RunRecord,
    figures: &Figures,
    service: &str,
    max: f64,
) -> Verdict {
    let offered = figures.offered as f64;
    let calls = record.calls_to(service);
    let observed = if offered > 0.0 {
        calls as f64 / offered
    } else {
        0.0
    };
    let held = observed <= max;
    Verdict {
        id,
        kind: VerdictKind::Amplification,
        label: format!("amplification {service}"),
        held,
        observed: Some(observed),
        limit: max,
        unit: Unit::CallsPerRequest,
        during: "all".into(),
        worst_window: None,
        message: format!(
            "{:.2} calls reached `{service}` per offered request ({} calls for {} requests) {} max {}",
            observed,
            thousands(calls),
            thousands(figures.offered),
            if held { "<=" } else { ">" },
            trim_float(max)
        ),
    }
}

/// `blind`: services squall cannot see inside (their work is not counted);
/// `code`: some of them are code services without squall's server layer.
fn wasted_work(
    id: InvariantId,
    record: &RunRecord,
    figures: &Figures,
    max_ratio: f64,
    blind: &[String],
    code: bool,
) -> Verdict {
    let work = figures.work;
    let ratio = work.wasted_ratio();
    // No trace at all for a run that sent requests: nothing was measured, and a ratio of
    // zero would be a pass nobody earned.
    let unmeasured = figures.offered > 0 && !figures.traced;
    let all_blind = !blind.is_empty() && blind.len() == record_services(record, blind);
    let named = blind
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let not_measured = |message: String| Verdict {
        id,
        kind: VerdictKind::WastedWork,
        label: "wasted work".into(),
        held: false,
        observed: None,
        limit: max_ratio,
        unit: Unit::Ratio,
        during: "all".into(),
        worst_window: None,
        message,
    };
    if all_blind && code {
        return not_measured(format!(
            "not measured: no service keeps squall's spans ({}: code without squall's server \
             layer, or images of their own) (hint: add `.layer(ctx.layer())` to each router)",
            named
        ));
    }
    if all_blind {
        return not_measured(format!(
            "not measured: no service keeps squall's spans ({} run images of their own)",
            named
        ));
    }
    if unmeasured && code {
        // Requests enter at a code service without the layer: no trace starts, so the
        // spans of the services behind it belong to no request either.
        return not_measured(format!(
            "not measured at {} (code without squall's server layer keeps no spans, so no \
             request's trace starts) (hint: add `.layer(ctx.layer())` to its router)",
            named
        ));
    }
    if unmeasured {
        return not_measured(
            "no span was read back from any instance, so wasted work was not measured \
                (on Docker: an image without `/squall/spans`, e.g. a stale squall-fixture; \
                rebuild it with `cargo run --example fixture_image`)"
                .into(),
        );
    }
    let held = ratio <= max_ratio;
    // The service that wasted the most, to say where to look.
    let worst = record
        .received
        .keys()
        .map(|svc| {
            let wasted = figures
                .work_by_service
                .get(svc)
                .map_or(Duration::ZERO, |w| w.wasted);
            (svc, wasted)
        })
        .filter(|(_, w)| !w.is_zero())
        .max_by_key(|(_, w)| *w);
    let mut message = format!(
        "{} of {} of work done after the caller stopped waiting ({} {} max {})",
        fmt_duration(work.wasted),
        fmt_duration(work.total),
        pct(ratio),
        if held { "<=" } else { ">" },
        pct(max_ratio)
    );
    if let (false, Some((svc, w))) = (held, worst) {
        message.push_str(&format!(" (most at `{svc}`: {})", fmt_duration(w)));
    }
    if !blind.is_empty() {
        message.push_str(&format!(
            "; not measured at {} ({})",
            named,
            if code {
                "code without squall's server layer keeps no spans"
            } else {
                "an image of its own keeps no spans"
            }
        ));
    }
    Verdict {
        id,
        kind: VerdictKind::WastedWork,
        label: "wasted work".into(),
        held,
        observed: Some(ratio),
        limit: max_ratio,
        unit: Unit::Ratio,
        during: "all".into(),
        worst_window: None,
        message,
    }
}

/// How many services the run had: those with counters, plus the `blind` ones
/// (a Docker image has none; a code service's are zeros, counted once).
fn record_services(record: &RunRecord, blind: &[String]) -> usize {
    let seen = record
        .received
        .keys()
        .filter(|s| !blind.contains(s))
        .count();
    seen + blind.len()
}

/// `0.5%`, `99.95%`: a ratio as a percentage, trailing zeros trimmed.
pub fn pct(ratio: f64) -> String {
    format!("{}%", trim_float((ratio * 100.0 * 1000.0).round() / 1000.0))
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// `29,940`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
