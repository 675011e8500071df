//! Worst-case arithmetic: how long an endpoint's work, a call and a whole
//! endpoint can take at most, from the policies written in the scenario.
//!
//! A call's worst case depends only on its own policy (each attempt is cut by
//! its timeout), not on the callee: that is what a timeout is for. A call with
//! no timeout is *unbounded* (`None`): an attempt waits as long as the callee
//! takes, forever behind a silent partition. Whatever contains an unbounded
//! call is unbounded too.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::scenario::{Call, Endpoint, Work};

/// `ln(100)`: the exponential distribution's p99 is `mean × ln(100)`.
pub const LN_100: f64 = 4.605_170_185_988_092;

/// The longest an endpoint's own work takes: the fixed time, the p99 of a
/// `{ p50, p99 }` distribution, or the p99 of an exponential `{ mean }` (an
/// exponential has no maximum; its p99 is `mean × ln 100 ≈ 4.6 × mean`).
pub fn work_worst(work: &Work) -> Duration {
    match *work {
        Work::Fixed(d) => d,
        Work::Percentiles { p99, .. } => p99,
        Work::Mean(mean) => {
            Duration::try_from_secs_f64(mean.as_secs_f64() * LN_100).unwrap_or(Duration::MAX)
        }
    }
}

/// Attempts a call makes at most: the first plus its retries.
pub fn attempts(call: &Call) -> u32 {
    call.retries.saturating_add(1)
}

/// The longest a call sleeps between its attempts: retry `k` (from 0) sleeps
/// less than `backoff × 2^k`, so `retries` retries sleep less than
/// `backoff × (2^retries − 1)` in all.
pub fn backoff_worst(backoff: Duration, retries: u32) -> Duration {
    // Validation caps `retries` at 10 and `backoff` at an hour, so this is far
    // from overflow; saturating all the same for scenarios built in code.
    let factor = 1u32.checked_shl(retries).map_or(u32::MAX, |p| p - 1);
    backoff.saturating_mul(factor)
}

/// The longest one attempt takes: its timeout, plus the hedge delay when the
/// call hedges (the second copy starts at most `hedge` after the first and has
/// a timeout of its own).
pub fn attempt_worst(call: &Call) -> Option<Duration> {
    call.timeout
        .map(|t| t.saturating_add(call.hedge.unwrap_or(Duration::ZERO)))
}

/// The longest a call takes: `attempts × (timeout + hedge) + backoff`, or
/// `None` (unbounded) when it has no timeout.
pub fn call_worst(call: &Call) -> Option<Duration> {
    attempt_worst(call).map(|a| {
        a.saturating_mul(attempts(call))
            .saturating_add(backoff_worst(call.backoff, call.retries))
    })
}

/// The longest an endpoint takes: its work, then each group of calls in turn,
/// a group taking as long as its slowest call. `None` if any call is unbounded.
pub fn endpoint_worst(endpoint: &Endpoint) -> Option<Duration> {
    let mut groups: BTreeMap<u32, Duration> = BTreeMap::new();
    for call in &endpoint.calls {
        let worst = call_worst(call)?;
        let slot = groups.entry(call.group).or_default();
        *slot = (*slot).max(worst);
    }
    let calls = groups
        .values()
        .fold(Duration::ZERO, |sum, g| sum.saturating_add(*g));
    Some(work_worst(&endpoint.work).saturating_add(calls))
}

/// The call of `endpoint` that contributes most to its worst case (the first
/// of equals), with its worst case; `None` when it makes no call or one is
/// unbounded.
pub fn dominant_call(endpoint: &Endpoint) -> Option<(&Call, Duration)> {
    let mut best: Option<(&Call, Duration)> = None;
    for call in &endpoint.calls {
        let worst = call_worst(call)?;
        if best.is_none_or(|(_, b)| worst > b) {
            best = Some((call, worst));
        }
    }
    best
}

/// Ways to make `call` fit in `allowance` (the most it may take in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// The largest whole-millisecond timeout that fits with the same attempts.
    pub timeout: Option<Duration>,
    /// The most attempts (fewer than now) that fit with the same timeout.
    pub attempts: Option<u32>,
}

/// How `call` could fit in `allowance`: a lower timeout with the same
/// attempts, or fewer attempts with the same timeout.
pub fn fit(call: &Call, allowance: Duration) -> Fit {
    let hedge = call.hedge.unwrap_or(Duration::ZERO);
    let n = attempts(call);
    let backoff = backoff_worst(call.backoff, call.retries);
    let timeout = allowance
        .checked_sub(backoff)
        .map(|rest| rest / n)
        .and_then(|per| per.checked_sub(hedge))
        .map(floor_ms)
        .filter(|t| !t.is_zero());
    let attempts = call.timeout.and_then(|t| {
        (1..n).rev().find(|&k| {
            let worst = t.saturating_add(hedge).saturating_mul(k);
            worst.saturating_add(backoff_worst(call.backoff, k - 1)) <= allowance
        })
    });
    Fit { timeout, attempts }
}

/// `d` rounded down to a whole millisecond.
fn floor_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(to: &str, timeout: u64, retries: u32, backoff: u64, group: u32) -> Call {
        Call {
            to: to.into(),
            path: "/".into(),
            timeout: Some(ms(timeout)),
            retries,
            backoff: ms(backoff),
            required: true,
            group,
            hedge: None,
            retry_budget: None,
        }
    }

    #[test]
    fn work_worst_takes_the_p99() {
        assert_eq!(work_worst(&Work::Fixed(ms(3))), ms(3));
        assert_eq!(
            work_worst(&Work::Percentiles {
                p50: ms(2),
                p99: ms(20)
            }),
            ms(20)
        );
        // Exponential with mean 10ms: P(X > x) = e^(-x/10) = 1% at x = 10 ln 100.
        let p99 = work_worst(&Work::Mean(ms(10)));
        assert_eq!(p99.as_micros(), 46_051);
        assert!((f64::exp(-p99.as_secs_f64() / 0.010) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn backoff_is_the_sum_of_the_doubling_bounds() {
        assert_eq!(backoff_worst(ms(10), 0), ms(0));
        assert_eq!(backoff_worst(ms(10), 1), ms(10));
        assert_eq!(backoff_worst(ms(10), 3), ms(10 + 20 + 40));
        assert_eq!(backoff_worst(ms(5), 10), ms(5 * 1023));
    }

    #[test]
    fn a_call_is_attempts_times_timeout_plus_backoff_plus_hedge() {
        assert_eq!(
            call_worst(&call("x", 40, 2, 5, 0)),
            Some(ms(3 * 40 + 5 + 10))
        );
        let mut hedged = call("x", 30, 1, 5, 0);
        hedged.hedge = Some(ms(10));
        assert_eq!(call_worst(&hedged), Some(ms(2 * (30 + 10) + 5)));
        let mut open = call("x", 30, 1, 5, 0);
        open.timeout = None;
        assert_eq!(call_worst(&open), None);
    }

    /// The hand calculation for a three-level topology, hop by hop:
    ///
    /// ```text
    /// front /  work 2ms, calls mid (timeout 100ms, 2 retries, backoff 10ms)
    /// mid /m   work p99 5ms, calls low (30ms, 1 retry, 4ms) then, in parallel,
    ///          side-a (20ms) and side-b (25ms, 1 retry, 2ms)
    /// low /l   work mean 2ms (p99 2 × ln 100 = 9.21ms)
    /// ```
    /// - low: 9.2103ms.
    /// - mid -> low: 2 × 30 + 4 = 64ms; group 1: max(20, 2 × 25 + 2 = 52) = 52ms;
    ///   mid: 5 + 64 + 52 = 121ms.
    /// - front -> mid: 3 × 100 + (10 + 20) = 330ms; front: 2 + 330 = 332ms.
    /// - attempts on low per request: 3 × 2 = 6; on side-b: 3 × 2 = 6.
    #[test]
    fn three_level_topology_matches_the_hand_calculation() {
        let low = Endpoint {
            work: Work::Mean(ms(2)),
            error_rate: 0.0,
            calls: vec![],
        };
        let mid = Endpoint {
            work: Work::Percentiles {
                p50: ms(1),
                p99: ms(5),
            },
            error_rate: 0.0,
            calls: vec![
                call("low", 30, 1, 4, 0),
                call("side-a", 20, 0, 0, 1),
                call("side-b", 25, 1, 2, 1),
            ],
        };
        let front = Endpoint {
            work: Work::Fixed(ms(2)),
            error_rate: 0.0,
            calls: vec![call("mid", 100, 2, 10, 0)],
        };
        assert_eq!(endpoint_worst(&low).unwrap().as_micros(), 9_210);
        assert_eq!(call_worst(&mid.calls[0]), Some(ms(64)));
        assert_eq!(call_worst(&mid.calls[2]), Some(ms(52)));
        assert_eq!(endpoint_worst(&mid), Some(ms(121)));
        assert_eq!(call_worst(&front.calls[0]), Some(ms(330)));
        assert_eq!(endpoint_worst(&front), Some(ms(332)));
        assert_eq!(
            dominant_call(&mid).map(|(c, w)| (c.to.as_str(), w)),
            Some(("low", ms(64)))
        );
        assert_eq!(attempts(&front.calls[0]) * attempts(&mid.calls[0]), 6);
        assert_eq!(attempts(&front.calls[0]) * attempts(&mid.calls[2]), 6);
    }

    #[test]
    fn fit_lowers_the_timeout_or_the_attempts() {
        // The issue's example: 40ms × 3 + 15ms = 135ms must fit in 100ms.
        let ledger = call("ledger", 40, 2, 5, 0);
        assert_eq!(
            fit(&ledger, ms(100)),
            Fit {
                timeout: Some(ms(28)), // (100 - 15) / 3 = 28.3
                attempts: Some(2),     // 2 × 40 + 5 = 85
            }
        );
        // Nothing fits: even one attempt is too long, and the backoff alone is.
        assert_eq!(
            fit(&call("x", 300, 3, 10, 0), ms(60)),
            Fit {
                timeout: None,
                attempts: None
            }
        );
    }
}
