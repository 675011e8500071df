//! Figures over a set of workload requests: counts by outcome and exact
//! latency percentiles (nearest rank over the sorted latencies, so the same
//! requests always give the same figure).
//!
//! A [`Tally`] keeps those figures as requests come, in memory that does not
//! grow with their number: counts per outcome, and a histogram of latencies
//! with one bucket per distinct microsecond (the resolution every report
//! prints). Latencies never exceed the caller's deadline, so a tally holds at
//! most `deadline` in microseconds of buckets, however long the run; in the
//! simulator, where time moves in ticks, far fewer. Unlike an HdrHistogram it
//! does not round: its percentiles are the nearest-rank figures of the sorted
//! latencies, so streamed figures are the ones a sort of every request gives.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::record::{Outcome, RequestRecord};

/// Counts and latency figures of a set of requests. Latencies are in
/// milliseconds, nearest-rank percentiles (`p999_ms` is the 99.9th); with no
/// request they are 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    pub requests: u64,
    /// Full answers (HTTP 2xx).
    pub ok: u64,
    /// Answers that left out a dependency.
    pub degraded: u64,
    /// HTTP error answers.
    pub errors: u64,
    /// No HTTP answer (refused, reset).
    pub failed: u64,
    /// No answer before the deadline.
    pub timeouts: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// Summarises `requests`.
    pub fn of<'a>(requests: impl IntoIterator<Item = &'a RequestRecord>) -> Self {
        let mut tally = Tally::default();
        for r in requests {
            tally.add(Class::of(&r.outcome), r.latency);
        }
        tally.summary()
    }

    /// The fraction that succeeded, degraded answers counted as `degraded_is_success` says.
    pub fn success_ratio(&self, degraded_is_success: bool) -> f64 {
        if self.requests == 0 {
            return 1.0;
        }
        let ok = self.ok
            + if degraded_is_success {
                self.degraded
            } else {
                0
            };
        ok as f64 / self.requests as f64
    }
}

/// How a request ended, without the names a degraded answer carries: what a
/// [`Tally`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ok,
    Degraded,
    Error,
    Failed,
    Timeout,
}

impl Class {
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Ok => Class::Ok,
            Outcome::Degraded(_) => Class::Degraded,
            Outcome::Error(_) => Class::Error,
            Outcome::Failed => Class::Failed,
            Outcome::Timeout => Class::Timeout,
        }
    }
}

/// Counts by outcome and an exact latency histogram (one bucket per distinct
/// microsecond), fed one request at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    counts: Summary,
    /// Requests per latency in whole microseconds.
    latencies_us: BTreeMap<u64, u64>,
}

impl Tally {
    /// Counts one request.
    pub fn add(&mut self, class: Class, latency: Duration) {
        let c = &mut self.counts;
        c.requests += 1;
        match class {
            Class::Ok => c.ok += 1,
            Class::Degraded => c.degraded += 1,
            Class::Error => c.errors += 1,
            Class::Failed => c.failed += 1,
            Class::Timeout => c.timeouts += 1,
        }
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        *self.latencies_us.entry(us).or_default() += 1;
    }

    /// Requests counted.
    pub fn requests(&self) -> u64 {
        self.counts.requests
    }

    pub fn is_empty(&self) -> bool {
        self.counts.requests == 0
    }

    /// Nearest-rank percentile, to the microsecond; zero for no requests.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.counts.requests;
        if n == 0 {
            return Duration::ZERO;
        }
        // The same rank as [`percentile`] computes over the sorted values.
        let rank = (((p / 100.0) * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (&us, &count) in &self.latencies_us {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(us);
            }
        }
        self.max()
    }

    /// Requests slower than `bound` (compared to the microsecond, as
    /// percentiles are).
    pub fn slower_than(&self, bound: Duration) -> u64 {
        let us = u64::try_from(bound.as_micros()).unwrap_or(u64::MAX);
        self.latencies_us
            .range(us.saturating_add(1)..)
            .map(|(_, &count)| count)
            .sum()
    }

    /// The largest latency, to the microsecond; zero for no requests.
    pub fn max(&self) -> Duration {
        self.latencies_us
            .last_key_value()
            .map_or(Duration::ZERO, |(&us, _)| Duration::from_micros(us))
    }

    /// The figures of every request counted.
    pub fn summary(&self) -> Summary {
        Summary {
            p50_ms: ms(self.percentile(50.0)),
            p90_ms: ms(self.percentile(90.0)),
            p99_ms: ms(self.percentile(99.0)),
            p999_ms: ms(self.percentile(99.9)),
            max_ms: ms(self.max()),
            ..self.counts.clone()
        }
    }
}

/// Nearest-rank percentile of sorted values; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with microsecond resolution, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 99.9), Duration::from_millis(100));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }

    #[test]
    fn a_tally_gives_the_figures_of_a_sort() {
        // Latencies with repeats and sub-microsecond parts, in no order.
        let latencies: Vec<Duration> = (0..1000u64)
            .map(|i| Duration::from_nanos((i * 7919) % 1013 * 1_000_300))
            .collect();
        let mut tally = Tally::default();
        for (i, l) in latencies.iter().enumerate() {
            let class = if i % 10 == 0 {
                Class::Timeout
            } else {
                Class::Ok
            };
            tally.add(class, *l);
        }
        let mut sorted = latencies.clone();
        sorted.sort_unstable();
        for p in [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(ms(tally.percentile(p)), ms(percentile(&sorted, p)), "p{p}");
        }
        assert_eq!(ms(tally.max()), ms(sorted[999]));
        let s = tally.summary();
        assert_eq!((s.requests, s.ok, s.timeouts), (1000, 900, 100));
        assert_eq!(Tally::default().summary(), Summary::default());
    }
}
