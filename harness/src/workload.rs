//! The open-loop workload: when each request is sent, decided before the run.
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

/// Send times, since the start of the load phase, of every request in
/// `[0, duration)`: evenly spaced for `constant`, exponential gaps for
/// `poisson` drawn from `seed`.
pub fn arrivals(rate: f64, arrival: Arrival, duration: Duration, seed: u64) -> Vec<Duration> {
    let end = duration.as_secs_f64();
    let mut out = Vec::new();
    match arrival {
        Arrival::Constant => {
            // Computed from the index, not accumulated, so rounding does not drift.
            let mut i = 0u64;
            loop {
                let t = i as f64 / rate;
                if t >= end || out.len() >= MAX_REQUESTS {
                    break;
                }
                out.push(Duration::from_secs_f64(t));
                i += 1;
            }
        }
        Arrival::Poisson => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // `rate` > 0 is guaranteed by validation; fall back to 1/s anyway.
            let gap =
                Exp::new(rate).unwrap_or_else(|_| Exp::new(1.0).expect("1.0 is a valid rate"));
            let mut t = 0.0;
            while t < end && out.len() < MAX_REQUESTS {
                out.push(Duration::from_secs_f64(t));
                t += gap.sample(&mut rng);
            }
        }
    }
    out
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
}
