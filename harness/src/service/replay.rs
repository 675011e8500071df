//! The determinism check for code services: run the same simulation twice in
//! this process and say where the second run first went another way.
//!
//! A run of one seed is the same run only if everything the services do comes
//! from the simulation. When a team's code reads the wall clock, a thread RNG,
//! a `HashMap`'s order or state another run left in a `static`, the second
//! run differs somewhere, and a verdict that flips between runs is the first
//! sign. [`first_divergence`] compares two runs that kept every request and
//! its hops, and names the first request that differs, when it was sent, and
//! the first instance whose part of it differs: where to start looking.

use std::fmt;
use std::time::Duration;

use crate::record::{Hop, RequestRecord, RunRecord};
use crate::report::fmt_duration;

/// Where two runs of one seed first differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The workload request, counted from 0 in the order they were sent.
    pub request: usize,
    /// When it was sent, since the start of the load phase.
    pub sent: Duration,
    /// How it ended in each run: latency and outcome.
    pub first: String,
    pub second: String,
    /// The first instance whose hop of this request differs, and when that
    /// hop started in the first run; `None` when the hops agree (only the
    /// answer's way back differs) or no instance saw the request.
    pub instance: Option<(String, Duration)>,
}

/// The first difference between two runs that kept their requests and
/// traces; `None` when they agree request by request, hop by hop, and in the
/// count of requests each instance received.
pub fn first_divergence(a: &RunRecord, b: &RunRecord) -> Option<Divergence> {
    let none: &[Hop] = &[];
    let n = a.requests.len().max(b.requests.len());
    for i in 0..n {
        let (ra, rb) = (a.requests.get(i), b.requests.get(i));
        let (ha, hb) = (
            a.traces.get(i).map_or(none, Vec::as_slice),
            b.traces.get(i).map_or(none, Vec::as_slice),
        );
        let hop = first_hop_difference(ha, hb);
        if ra == rb && hop.is_none() {
            continue;
        }
        let sent = ra.or(rb).map_or(Duration::ZERO, |r| r.scheduled);
        return Some(Divergence {
            request: i,
            sent,
            first: ended(ra),
            second: ended(rb),
            instance: hop,
        });
    }
    if a.received != b.received {
        // Same workload answers, different traffic inside: name the first
        // instance whose count differs.
        let instance = a
            .received
            .values()
            .flat_map(|m| m.iter())
            .find(|(inst, count)| {
                b.received
                    .values()
                    .find_map(|m| m.get(*inst))
                    .is_none_or(|other| other != *count)
            })
            .map(|(inst, _)| (inst.clone(), Duration::ZERO));
        return Some(Divergence {
            request: n,
            sent: Duration::ZERO,
            first: "the same answers".into(),
            second: "the same answers, but other requests received inside".into(),
            instance,
        });
    }
    None
}

fn first_hop_difference(a: &[Hop], b: &[Hop]) -> Option<(String, Duration)> {
    let key = |h: &Hop| (h.instance.clone(), h.start, h.end, h.status);
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if key(x) == key(y) => {}
            (Some(x), _) => return Some((x.instance.to_string(), x.start)),
            (None, Some(y)) => return Some((y.instance.to_string(), y.start)),
            (None, None) => break,
        }
    }
    None
}

fn ended(r: Option<&RequestRecord>) -> String {
    match r {
        Some(r) => format!("{:?} after {}", r.outcome, fmt_duration(r.latency)),
        None => "not sent".into(),
    }
}

/// What usually makes a service's run differ from the same seed's last one.
pub const USUAL_CAUSES: &str = "the wall clock (std::time::Instant or SystemTime \
     instead of tokio::time), a thread or OS RNG (rand::rng(), thread_rng, getrandom) \
     instead of one seeded from ctx.seed(), the order of a std HashMap or HashSet, \
     state a `static` keeps from an earlier run, or threads (std::thread::spawn, \
     spawn_blocking, a multi-threaded runtime)";

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "two runs of one seed differ from request {} (sent at {}): {} in the first, {} \
             in the second",
            self.request,
            fmt_duration(self.sent),
            self.first,
            self.second
        )?;
        if let Some((instance, at)) = &self.instance {
            write!(
                f,
                "; first at `{instance}` (its hop started {} into the simulation)",
                fmt_duration(*at)
            )?;
        }
        write!(f, "\n  (the usual causes: {USUAL_CAUSES})")
    }
}
