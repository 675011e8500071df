//! The bounds a scenario must keep, stated once and checked at load.
//!
//! Every value that reaches arithmetic (a duration added to another, a
//! timeout multiplied by attempts, a rate multiplied by the run's length) is
//! bounded here, so that no file and no command line can make squall overflow,
//! exhaust memory or run for years: bad input is refused with exit 2 and
//! `path:line:col`, like every other scenario error, instead of panicking in
//! the middle of a run. docs/scenarios.md ("Limits") lists the same bounds for
//! people; change both together.
//!
//! ```
//! use std::time::Duration;
//! use squall::scenario::limits::{check_requests, MAX_REQUESTS};
//!
//! // 500 requests a second for an hour: 1.8 million, within the cap.
//! assert_eq!(check_requests(500.0, Duration::from_secs(3600)), Ok(1_800_000));
//! // 100 000 a second for a day is not.
//! assert!(check_requests(100_000.0, Duration::from_secs(86_400)).is_err());
//! assert_eq!(MAX_REQUESTS, 10_000_000);
//! ```

use std::fmt;
use std::time::Duration;

/// Longest load phase (`duration`, `--duration`): a day, the longest soak a
/// nightly suite runs. With [`MAX_WAIT`] it keeps every sum of times the
/// engine forms (run + deadline + drain, fault start + length) far from
/// overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Longest single wait: the workload's `deadline`, a call's `timeout`,
/// `backoff` and `hedge`, an endpoint's `work` (any of its forms), a
/// breaker's `cooldown`, a fault's `delay` and `jitter`, the simulator's base
/// `latency`, a latency invariant's `max`. An hour is the fixture's own
/// ceiling on work (`squall_fixture::WORK_MAX`), and far above any timeout a
/// service would set; bounded, a call's worst case (`attempts × (timeout +
/// hedge) + backoff × (2^retries − 1)`) stays under 2 000 hours.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Finest simulator tick. turmoil steps every host once a tick: at 100 µs a
/// simulated second is 10 000 steps of every host already (docs/simulator.md).
pub const MIN_TICK: Duration = Duration::from_micros(100);

/// Coarsest simulator tick: every timer rounds up to a tick, so a coarser one
/// would round deadlines and timeouts away.
pub const MAX_TICK: Duration = Duration::from_secs(1);

/// Highest workload rate, requests per second.
pub const MAX_RATE: f64 = 100_000.0;

/// Most requests one run may offer (`rate × duration`, with `--duration`
/// applied). The send schedule is kept whole (16 bytes a request, 160 MB at
/// the cap), and until figures stream (issue 10) every request's record and
/// spans are kept too, about 4.3 KB a request (docs/performance.md): a run at
/// the cap needs about 43 GB today. Refusing a run at load beats an
/// out-of-memory kill an hour into it.
pub const MAX_REQUESTS: u64 = 10_000_000;

/// Most replicas a service may have; the simulator gives each one a host.
pub const MAX_REPLICAS: u32 = 64;

/// Most instances in all (the sum of `replicas`). turmoil runs every host
/// every tick, about 1-1.5 us a host on a 2-core VM, so 512 instances at a
/// 1 ms tick idle at about real time before any load; memory grows with the
/// connections between tiers (docs/performance.md, "Scaling"). Before the
/// turmoil fork (vendor/turmoil) every tick also scanned every link, O(hosts³).
pub const MAX_INSTANCES: u32 = 512;

/// Most retries a call may make; more turns a blip into a retry storm.
pub const MAX_RETRIES: u32 = 10;

/// Most downstream calls one request may cause in the worst case: every
/// attempt of every call made (twice when it hedges), down every layer. Each
/// call is a task, a connection and a span in the simulator; past this one
/// request is a load test of its own.
pub const MAX_FANOUT: u64 = 10_000;

/// `d` as the limits are written: `24h`, `1h`, `100us`, `1s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 && secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        super::format_duration(d)
    }
}

/// A load phase that would offer more than [`MAX_REQUESTS`] requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TooManyRequests {
    pub rate: f64,
    pub duration: Duration,
}

impl fmt::Display for TooManyRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let requests = self.rate * self.duration.as_secs_f64();
        write!(
            f,
            "{} requests a second for {} is {requests:.0} requests, more than the \
             {MAX_REQUESTS} one run may offer",
            self.rate,
            super::format_duration(self.duration)
        )
    }
}

impl std::error::Error for TooManyRequests {}

/// How many requests `rate` a second for `duration` offers, if within
/// [`MAX_REQUESTS`].
pub fn check_requests(rate: f64, duration: Duration) -> Result<u64, TooManyRequests> {
    let requests = rate * duration.as_secs_f64();
    // NaN and infinities fail the comparison and are refused with the rest.
    if requests.is_finite() && requests >= 0.0 && requests <= MAX_REQUESTS as f64 {
        Ok(requests.ceil() as u64)
    } else {
        Err(TooManyRequests { rate, duration })
    }
}

/// A `--duration` that is zero or longer than [`MAX_DURATION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadDuration(pub Duration);

impl fmt::Display for BadDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the load phase must be longer than 0 and at most {}, found {}",
            human(MAX_DURATION),
            super::format_duration(self.0)
        )
    }
}

impl std::error::Error for BadDuration {}

/// Checks a load-phase length given outside the file (`--duration`).
pub fn check_duration(duration: Duration) -> Result<Duration, BadDuration> {
    if duration.is_zero() || duration > MAX_DURATION {
        Err(BadDuration(duration))
    } else {
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_written() {
        assert_eq!(human(MAX_DURATION), "24h");
        assert_eq!(human(MAX_WAIT), "1h");
        assert_eq!(human(MIN_TICK), "100us");
        assert_eq!(human(MAX_TICK), "1s");
        assert_eq!(human(Duration::from_secs(5400)), "5400s");
    }

    #[test]
    fn requests_are_rate_times_duration_within_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(check_requests(500.0, s(60)), Ok(30_000));
        assert_eq!(check_requests(0.5, s(3)), Ok(2));
        assert_eq!(check_requests(MAX_RATE, s(100)), Ok(MAX_REQUESTS));
        let over = check_requests(MAX_RATE, s(101)).unwrap_err();
        assert_eq!(
            over.to_string(),
            "100000 requests a second for 101s is 10100000 requests, more than the \
             10000000 one run may offer"
        );
        assert!(check_requests(f64::NAN, s(1)).is_err());
        assert!(check_requests(f64::INFINITY, s(1)).is_err());
    }

    #[test]
    fn durations_from_the_command_line_are_bounded() {
        assert_eq!(
            check_duration(Duration::from_secs(10)),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(check_duration(MAX_DURATION), Ok(MAX_DURATION));
        assert_eq!(
            check_duration(Duration::ZERO).unwrap_err().to_string(),
            "the load phase must be longer than 0 and at most 24h, found 0s"
        );
        assert_eq!(
            check_duration(MAX_DURATION + Duration::from_secs(1))
                .unwrap_err()
                .to_string(),
            "the load phase must be longer than 0 and at most 24h, found 86401s"
        );
    }
}
