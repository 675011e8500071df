//! The open-loop workload: when each request is sent, drawn from the seed alone
//! (so decided before the run), one at a time.
//!
//! Arrivals do not wait for answers (open loop), and latency is measured from
//! the *scheduled* time, so a stalled system shows its stall instead of being
//! offered less load (no coordinated omission).

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::scenario::Arrival;

/// The most requests one run may schedule: validation refuses more
/// ([`crate::scenario::limits::MAX_REQUESTS`], which says why); this cap
/// only guards callers that skip it.
pub const MAX_REQUESTS: usize = crate::scenario::limits::MAX_REQUESTS as usize;

/// A request sent later than this after its scheduled instant was sent
/// behind schedule. The driver's sends are accurate to some tens of
/// microseconds on a machine that keeps up; a millisecond late is a driver
/// (or machine) that does not.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// How far the workload driver fell behind its schedule over a run. Every
/// request is still sent and measured from its scheduled instant, so the
/// figures stay honest; but a driver that cannot keep the asked rate offers
/// the system a different load than the file says, and the run must say so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Behind {
    /// Requests sent more than [`LATE_AFTER`] after their instant.
    pub late: u64,
    /// The latest of them.
    pub worst: Duration,
}

impl Behind {
    /// A request was sent `lag` after its scheduled instant.
    pub fn note(&mut self, lag: Duration) {
        if lag > LATE_AFTER {
            self.late += 1;
            self.worst = self.worst.max(lag);
        }
    }
}

/// Send times, since the start of the load phase, of every request in
/// `[0, duration)`: evenly spaced for `constant`, exponential gaps for
/// `poisson` drawn from `seed`.
pub fn arrivals(rate: f64, arrival: Arrival, duration: Duration, seed: u64) -> Vec<Duration> {
    Arrivals::new(rate, arrival, duration, seed).collect()
}

/// The send times of [`arrivals`], one at a time: a run of any length holds
/// one arrival, not the schedule.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rate: f64,
    end: f64,
    /// Requests given so far.
    sent: usize,
    /// Poisson: the rng and gap distribution, and the next time.
    poisson: Option<(ChaCha8Rng, Exp<f64>, f64)>,
}

impl Arrivals {
    pub fn new(rate: f64, arrival: Arrival, duration: Duration, seed: u64) -> Self {
        let poisson = match arrival {
            Arrival::Constant => None,
            Arrival::Poisson => {
                // `rate` > 0 is guaranteed by validation; fall back to 1/s anyway.
                let gap =
                    Exp::new(rate).unwrap_or_else(|_| Exp::new(1.0).expect("1.0 is a valid rate"));
                Some((ChaCha8Rng::seed_from_u64(seed), gap, 0.0))
            }
        };
        Arrivals {
            rate,
            end: duration.as_secs_f64(),
            sent: 0,
            poisson,
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.sent >= MAX_REQUESTS {
            return None;
        }
        let t = match &mut self.poisson {
            // Computed from the index, not accumulated, so rounding does not drift.
            None => self.sent as f64 / self.rate,
            Some((rng, gap, next)) => {
                let t = *next;
                if t < self.end {
                    *next += gap.sample(rng);
                }
                t
            }
        };
        if t >= self.end {
            return None;
        }
        self.sent += 1;
        Some(Duration::from_secs_f64(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let a = arrivals(500.0, Arrival::Constant, Duration::from_secs(2), 1);
        assert_eq!(a.len(), 1000);
        assert_eq!(a[1], Duration::from_millis(2));
        assert_eq!(a[999], Duration::from_millis(1998));
    }

    #[test]
    fn poisson_arrivals_have_the_rate_and_follow_the_seed() {
        let a = arrivals(1000.0, Arrival::Poisson, Duration::from_secs(10), 7);
        assert!((9_500..10_500).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            a,
            arrivals(1000.0, Arrival::Poisson, Duration::from_secs(10), 7)
        );
        assert_ne!(
            a,
            arrivals(1000.0, Arrival::Poisson, Duration::from_secs(10), 8)
        );
    }

    #[test]
    fn the_iterator_stops_at_the_end_and_stays_stopped() {
        let mut it = Arrivals::new(2.0, Arrival::Constant, Duration::from_secs(2), 1);
        let got: Vec<Duration> = it.by_ref().collect();
        assert_eq!(got, [0, 500, 1000, 1500].map(Duration::from_millis));
        assert_eq!(it.next(), None);
    }
}
