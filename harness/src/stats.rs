//! Figures over a set of workload requests: counts by outcome and exact
//! latency percentiles (nearest rank over the sorted latencies, so the same
//! requests always give the same figure).

use std::time::Duration;

use serde::Serialize;

use crate::record::{Outcome, RequestRecord};

/// Counts and latency figures of a set of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    pub ok: u64,
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
        let mut s = Summary::default();
        let mut latencies = Vec::new();
        for r in requests {
            s.requests += 1;
            match r.outcome {
                Outcome::Ok => s.ok += 1,
                Outcome::Degraded(_) => s.degraded += 1,
                Outcome::Error(_) => s.errors += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Timeout => s.timeouts += 1,
            }
            latencies.push(r.latency);
        }
        latencies.sort_unstable();
        s.p50_ms = ms(percentile(&latencies, 50.0));
        s.p90_ms = ms(percentile(&latencies, 90.0));
        s.p99_ms = ms(percentile(&latencies, 99.0));
        s.p999_ms = ms(percentile(&latencies, 99.9));
        s.max_ms = ms(latencies.last().copied().unwrap_or_default());
        s
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
}
