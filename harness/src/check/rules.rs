//! The checks, one function per [`FindingKind`]: each reads the scenario (and
//! the call paths) and says what is wrong, with figures, why and a fix.
//!
//! An unknown is reported once, where it starts: a call without a timeout is a
//! `missing-timeout` finding, and every budget that would contain it is left
//! unchecked rather than flagged again as "unbounded".

use std::time::Duration;

use super::budget::{
    attempt_worst, attempts, backoff_worst, dominant_call, endpoint_worst, fit, work_worst,
};
use super::finding::{fmt_ratio, fmt_time, Finding, FindingKind, Severity};
use super::paths::{callee, entry, CallPath, Hop};
use super::CheckOptions;
use crate::scenario::{Call, Endpoint, Scenario};

/// The retry budget the fix for amplification proposes.
const SUGGESTED_BUDGET: f64 = 0.1;

/// `deadline-exceeded`: the entry endpoint can take longer than the workload waits.
///
/// Not when the entry has `propagate_deadline`: the workload always sends its
/// deadline, and a propagating service answers (504 or degraded) by that
/// deadline less [`squall_fixture::deadline::RESERVE`], whatever its calls'
/// timeouts say.
pub fn deadline(scenario: &Scenario) -> Option<Finding> {
    let (service, endpoint) = entry(scenario)?;
    if service.propagate_deadline {
        return None;
    }
    let worst = endpoint_worst(endpoint)?;
    let deadline = scenario.workload.deadline;
    if worst <= deadline {
        return None;
    }
    let name = &service.name;
    Some(Finding {
        severity: Severity::Error,
        kind: FindingKind::DeadlineExceeded,
        path: vec![name.clone()],
        message: format!(
            "{name} {} worst case {} ({}) exceeds the workload's {} deadline",
            scenario.workload.path,
            fmt_time(worst),
            describe_endpoint(endpoint),
            fmt_time(deadline)
        ),
        why: format!(
            "the workload gives up while {name} may still be working and retrying: the request \
             times out instead of getting an answer (even an error or a degraded one), and every \
             hop below keeps spending work on it"
        ),
        fix: fit_text(
            scenario,
            name,
            endpoint,
            deadline,
            &format!(
                "raise the deadline to {} if the caller allows it",
                fmt_time(worst)
            ),
        ) + &format!(
            "; or set propagate_deadline = true on {name} and every service below it (each hop \
             then answers by the deadline it is given)"
        ),
    })
}

/// `inverted-timeout`: the last callee of `path` can take longer than the
/// per-attempt timeout its caller gives it.
pub fn inverted(scenario: &Scenario, path: &CallPath<'_>) -> Option<Finding> {
    let hop = path.last();
    let call = hop.call;
    let timeout = call.timeout?;
    let (service, endpoint) = callee(scenario, call)?;
    // A propagating caller sends each attempt its timeout as the deadline
    // (or less), and a propagating callee answers before it: not inverted.
    if clamped(hop.caller.propagate_deadline, service.propagate_deadline) {
        return None;
    }
    let worst = endpoint_worst(endpoint)?;
    if worst <= timeout {
        return None;
    }
    let (caller, name) = (&hop.caller.name, &service.name);
    let retry = if call.retries > 0 {
        format!(
            "; {caller}'s next attempt ({} in all) lands on top of them",
            attempts(call)
        )
    } else {
        String::new()
    };
    Some(Finding {
        severity: Severity::Error,
        kind: FindingKind::InvertedTimeout,
        path: path.services(),
        message: format!(
            "{name} {} worst case {} ({}) exceeds the {} {caller} allows it per attempt",
            call.path,
            fmt_time(worst),
            describe_endpoint(endpoint),
            fmt_time(timeout)
        ),
        why: format!(
            "{caller} gives up on an attempt while {name} may still be working on it (an \
             inverted timeout): {name}'s remaining retries are wasted work, or never made if the \
             give-up cancels it, and cannot save the request{retry}"
        ),
        fix: fit_text(
            scenario,
            name,
            endpoint,
            timeout,
            &format!(
                "raise {caller}'s timeout for {name} to {}",
                fmt_time(ceil_ms(worst))
            ),
        ) + &format!(
            "; or set propagate_deadline = true on {caller} and {name} (and every service below)"
        ),
    })
}

/// Whether a callee's time is cut to its caller's per-attempt timeout by
/// deadline propagation: the caller forwards the deadline and the callee
/// honours it (the fixture's `propagate_deadline` does both).
pub fn clamped(caller_propagates: bool, callee_propagates: bool) -> bool {
    caller_propagates && callee_propagates
}

/// `missing-timeout`: the last call of `path` has no timeout.
pub fn missing_timeout(scenario: &Scenario, path: &CallPath<'_>) -> Option<Finding> {
    let hop = path.last();
    let call = hop.call;
    if call.timeout.is_some() {
        return None;
    }
    let (caller, name) = (&hop.caller.name, &call.to);
    let why = if call.required {
        format!(
            "an attempt waits as long as {name} takes, forever if it freezes or a partition \
             drops its packets silently: {caller} hangs with it, and so does every caller above \
             (their budgets are unbounded and left unchecked until this has a timeout)"
        )
    } else {
        format!(
            "an optional call without a timeout cannot degrade: {caller} waits for every call of \
             the group before it answers, so a frozen or partitioned {name} hangs {caller} (and \
             every caller above) instead of leaving {name} out"
        )
    };
    let callee_worst = callee(scenario, call).and_then(|(_, ep)| endpoint_worst(ep));
    let fix = match callee_worst {
        Some(w) => format!(
            "set `timeout` on this call above {name}'s worst case {} (say {}), within what \
             {caller} may spend on it",
            fmt_time(w),
            fmt_time(ceil_ms(w * 2))
        ),
        None => format!(
            "set `timeout` on this call, and on {name}'s own calls that lack one, then check again"
        ),
    };
    Some(Finding {
        severity: Severity::Error,
        kind: FindingKind::MissingTimeout,
        path: path.services(),
        message: format!(
            "{caller} calls {name} {} without a timeout ({}, {})",
            call.path,
            if call.required {
                "required"
            } else {
                "optional"
            },
            plural(attempts(call), "attempt")
        ),
        why,
        fix,
    })
}

/// `retry-amplification`: the product of attempts along a complete `path`
/// exceeds the bound.
pub fn amplification(path: &CallPath<'_>, options: &CheckOptions) -> Option<Finding> {
    let product: f64 = path
        .hops
        .iter()
        .map(|h| f64::from(attempts(h.call)))
        .product();
    let bound = options.max_amplification;
    if product <= bound {
        return None;
    }
    // A budget of β lets retries add at most β to the first attempts: the hop
    // multiplies by at most 1 + β in steady state.
    let capped: f64 = path
        .hops
        .iter()
        .map(|h| {
            let n = f64::from(attempts(h.call));
            h.call.retry_budget.map_or(n, |b| n.min(1.0 + b))
        })
        .product();
    let budgeted = path.hops.iter().any(|h| h.call.retry_budget.is_some());
    let retrying: Vec<&Hop<'_>> = path.hops.iter().filter(|h| h.call.retries > 0).collect();
    let leaf = &path.last().call.to;
    let edge = |h: &Hop<'_>| format!("{} -> {}", h.caller.name, h.call.to);
    let mut message = format!(
        "up to {} calls reach {leaf} per request ({} attempts on {}), above the bound of {}",
        fmt_ratio(product),
        retrying
            .iter()
            .map(|h| attempts(h.call).to_string())
            .collect::<Vec<_>>()
            .join(" × "),
        retrying
            .iter()
            .map(|h| edge(h))
            .collect::<Vec<_>>()
            .join(", "),
        fmt_ratio(bound)
    );
    let severity = if budgeted && capped <= bound {
        Severity::Warning
    } else {
        Severity::Error
    };
    let why = if !budgeted {
        format!(
            "each layer retries the failures of the layer below, so when {leaf} slows or fails \
             the load on it multiplies just when it can least take it: a retry storm"
        )
    } else if severity == Severity::Warning {
        message.push_str(&format!(
            "; retry budgets cap it at {} in steady state",
            fmt_ratio(capped)
        ));
        "a retry budget caps the average, not a burst: until it is spent the full product still \
         reaches the deepest service"
            .to_owned()
    } else {
        message.push_str(&format!(
            "; retry budgets cap it at {} only",
            fmt_ratio(capped)
        ));
        format!(
            "even with the retry budgets on this path, {leaf} can receive {} calls per request \
             when it slows or fails: a retry storm",
            fmt_ratio(capped)
        )
    };
    let fix = match retrying.as_slice() {
        [only] => format!(
            "lower `retries` on {} to {} (at most {} attempts){}",
            edge(only),
            (bound.floor() as u32).saturating_sub(1),
            bound.floor() as u32,
            match only.call.retry_budget {
                // It has one already: proposing to add one would read as a bug.
                Some(b) => format!(" (its retry_budget = {b} caps the average, not a burst)"),
                None => format!(", or add retry_budget = {SUGGESTED_BUDGET}"),
            }
        ),
        [upper @ .., last] => format!(
            "retry at one layer only: keep the retries on {} and set retries = 0 on {} ({} calls \
             per request), or give every retrying call retry_budget = {SUGGESTED_BUDGET} (caps it at {})",
            edge(last),
            upper.iter().map(|h| edge(h)).collect::<Vec<_>>().join(", "),
            attempts(last.call),
            fmt_ratio((1.0 + SUGGESTED_BUDGET).powi(retrying.len() as i32))
        ),
        // Unreachable: a product above the bound (>= 1) needs a retrying hop.
        [] => return None,
    };
    Some(Finding {
        severity,
        kind: FindingKind::RetryAmplification,
        path: path.services(),
        message,
        why,
        fix,
    })
}

/// `hedge-without-budget`: the last call of `path` hedges with nothing to cap it.
pub fn hedge(path: &CallPath<'_>) -> Option<Finding> {
    let hop = path.last();
    let delay = hop.call.hedge?;
    if hop.call.retry_budget.is_some() {
        return None;
    }
    let (caller, name) = (&hop.caller.name, &hop.call.to);
    Some(Finding {
        severity: Severity::Warning,
        kind: FindingKind::HedgeWithoutBudget,
        path: path.services(),
        message: format!(
            "{caller} hedges its calls to {name} {} after {} without a retry_budget",
            hop.call.path,
            fmt_time(delay)
        ),
        why: format!(
            "hedges double load on a slow replica with nothing to cap them: when {name} slows \
             past {}, every call sends a second copy, and {name} gets twice the calls when it \
             can least take them",
            fmt_time(delay)
        ),
        fix: format!(
            "add retry_budget = {SUGGESTED_BUDGET} to this call (hedges and retries then add at \
             most {}% to its calls), or hedge later (near {name}'s p99)",
            (SUGGESTED_BUDGET * 100.0).round()
        ),
    })
}

/// `propagation-gap`: the last callee of `path` propagates deadlines, but its
/// caller does not forward one.
pub fn propagation(scenario: &Scenario, path: &CallPath<'_>) -> Option<Finding> {
    let hop = path.last();
    let (service, _) = callee(scenario, hop.call)?;
    if !service.propagate_deadline || hop.caller.propagate_deadline {
        return None;
    }
    let (caller, name) = (&hop.caller.name, &service.name);
    Some(Finding {
        severity: Severity::Warning,
        kind: FindingKind::PropagationGap,
        path: path.services(),
        message: format!(
            "{name} has propagate_deadline = true but its caller {caller} does not forward a deadline"
        ),
        why: format!(
            "the deadline does not reach {name}: propagation only works if every hop above \
             forwards it, so {name} clamps nothing on requests from {caller} and keeps working \
             after {caller} has given up"
        ),
        fix: format!("set propagate_deadline = true on {caller} (and on every service above it)"),
    })
}

/// How the endpoint's worst case adds up: `work 1ms + api 300ms × 4 attempts
/// = 1.2s + 70ms backoff + max(fraud 30ms, merchant 20ms)`.
pub fn describe_endpoint(endpoint: &Endpoint) -> String {
    let mut groups: Vec<(u32, Vec<&Call>)> = Vec::new();
    for call in &endpoint.calls {
        match groups.iter_mut().find(|(g, _)| *g == call.group) {
            Some((_, calls)) => calls.push(call),
            None => groups.push((call.group, vec![call])),
        }
    }
    groups.sort_by_key(|(g, _)| *g);
    let mut parts = vec![format!("work {}", fmt_time(work_worst(&endpoint.work)))];
    for (_, calls) in groups {
        if let [one] = calls.as_slice() {
            parts.push(describe_call(one));
        } else {
            let inner: Vec<_> = calls.iter().map(|c| describe_call(c)).collect();
            parts.push(format!("max({})", inner.join(", ")));
        }
    }
    parts.join(" + ")
}

/// `ledger 40ms × 3 attempts = 120ms + 15ms backoff`, `fraud 30ms`,
/// `ledger (30ms + 10ms hedge) × 2 attempts = 80ms + 5ms backoff`.
pub fn describe_call(call: &Call) -> String {
    let Some(timeout) = call.timeout else {
        return format!("{} (no timeout)", call.to);
    };
    let per = match call.hedge {
        Some(h) if call.retries > 0 => format!("({} + {} hedge)", fmt_time(timeout), fmt_time(h)),
        Some(h) => format!("{} + {} hedge", fmt_time(timeout), fmt_time(h)),
        None => fmt_time(timeout),
    };
    if call.retries == 0 {
        return format!("{} {per}", call.to);
    }
    let n = attempts(call);
    let mut text = format!(
        "{} {per} × {n} attempts = {}",
        call.to,
        fmt_time(attempt_worst(call).unwrap_or_default() * n)
    );
    let backoff = backoff_worst(call.backoff, call.retries);
    if !backoff.is_zero() {
        text.push_str(&format!(" + {} backoff", fmt_time(backoff)));
    }
    text
}

/// The fix for an endpoint of `owner` whose worst case must fit in `allowance`:
/// shrink its dominant call (lower timeout, fewer attempts) or `raise`.
fn fit_text(
    scenario: &Scenario,
    owner: &str,
    endpoint: &Endpoint,
    allowance: Duration,
    raise: &str,
) -> String {
    let worst = endpoint_worst(endpoint).unwrap_or_default();
    let Some((call, call_worst)) = dominant_call(endpoint) else {
        return format!(
            "{owner}'s own work (p99 {}) does not fit: make it faster, or {raise}",
            fmt_time(work_worst(&endpoint.work))
        );
    };
    let rest = worst - call_worst;
    let to = &call.to;
    let Some(room) = allowance.checked_sub(rest).filter(|r| !r.is_zero()) else {
        return format!(
            "{owner}'s work and other calls ({}) leave nothing for {to}: {raise}, or cut them",
            fmt_time(rest)
        );
    };
    let n = attempts(call);
    let fitted = fit(call, room);
    let mut options = Vec::new();
    let mut proposed = Vec::new();
    if let Some(t) = fitted.timeout {
        proposed.push(t);
        options.push(if n > 1 {
            format!(
                "lower {owner}'s timeout for {to} to {} × {n} attempts",
                fmt_time(t)
            )
        } else {
            format!("lower {owner}'s timeout for {to} to {}", fmt_time(t))
        });
    }
    match fitted.attempts {
        Some(k) => options.push(format!(
            "keep {} with {}",
            fmt_time(call.timeout.unwrap_or_default()),
            plural(k, "attempt")
        )),
        None if n > 1 => {
            let hedge = call.hedge.unwrap_or_default();
            if let Some(t) = room.checked_sub(hedge).filter(|t| t.as_millis() > 0) {
                let t = Duration::from_millis(t.as_millis() as u64);
                proposed.push(t);
                options.push(format!("make 1 attempt of {}", fmt_time(t)));
            }
        }
        None => {}
    }
    if options.is_empty() {
        return format!(
            "{to} gets only {} of it here, less than its backoff alone: {raise}",
            fmt_time(room)
        );
    }
    // A timeout below the callee's own worst case would invert that hop.
    let callee_worst = callee(scenario, call).and_then(|(_, ep)| endpoint_worst(ep));
    let note = match callee_worst {
        Some(w) if proposed.iter().any(|&t| t < w) => {
            format!(
                " ({to} itself can take {}: shorten that first)",
                fmt_time(w)
            )
        }
        _ => String::new(),
    };
    format!(
        "{to} may take at most {} in all here{note}: {}; or {raise}",
        fmt_time(room),
        options.join(", or ")
    )
}

/// `d` rounded up to a whole millisecond.
fn ceil_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000) as u64)
}

/// `1 attempt`, `3 attempts`.
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
