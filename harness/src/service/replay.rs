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

use crate::record::{Hop, Outcome, RequestRecord, RunRecord};
use crate::report::fmt_duration;

/// Where two runs of one seed first differ.
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    /// A workload request ended differently, or its hops inside differ.
    Request {
        /// The request, counted from 0 in the order they were sent.
        request: usize,
        /// When it was sent, since the start of the load phase.
        sent: Duration,
        /// How it ended in each run.
        first: Ended,
        second: Ended,
        /// The earliest event of this request inside the system that differs;
        /// `None` when the hops agree (only the answer's way back differs) or
        /// no instance saw it.
        hop: Option<HopChange>,
    },
    /// Every request ended the same way, but an instance received another
    /// number of requests (calls no workload request's answer depended on).
    Received {
        instance: String,
        first: u64,
        second: u64,
    },
}

/// How a workload request ended in one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Answered { outcome: Outcome, latency: Duration },
    NotSent,
}

/// The earliest event of a request's hops that differs between two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HopChange {
    /// Where to start looking: the instance that answered differently, or
    /// the caller that called differently.
    pub instance: String,
    /// When, since the start of the load phase (the earlier of the two runs).
    pub at: Duration,
    pub what: HopEvent,
}

/// Which end of a hop differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopEvent {
    /// The hop at `callee` began at another time, or went to another
    /// instance: its caller (the change's `instance`) did something else.
    Called { callee: String },
    /// The hop began alike and ended differently (time or status).
    Answered,
}

/// The first difference between two runs that kept their requests and
/// traces; `None` when they agree request by request, hop by hop, and in the
/// count of requests each instance received.
pub fn first_divergence(a: &RunRecord, b: &RunRecord) -> Option<Divergence> {
    let none: &[Hop] = &[];
    let n = a.requests.len().max(b.requests.len());
    for i in 0..n {
        let (ra, rb) = (a.requests.get(i), b.requests.get(i));
        let hop = earliest_hop_change(
            a.traces.get(i).map_or(none, Vec::as_slice),
            b.traces.get(i).map_or(none, Vec::as_slice),
        );
        if ra == rb && hop.is_none() {
            continue;
        }
        return Some(Divergence::Request {
            request: i,
            sent: ra.or(rb).map_or(Duration::ZERO, |r| r.scheduled),
            first: ended(ra),
            second: ended(rb),
            hop,
        });
    }
    let count = |r: &RunRecord, instance: &str| {
        r.received
            .values()
            .find_map(|m| m.get(instance).copied())
            .unwrap_or(0)
    };
    a.received
        .values()
        .chain(b.received.values())
        .flat_map(|m| m.keys())
        .find(|instance| count(a, instance) != count(b, instance))
        .map(|instance| Divergence::Received {
            instance: instance.clone(),
            first: count(a, instance),
            second: count(b, instance),
        })
}

/// Hops are paired in start order. For each pair the earliest time at which
/// they differ is its start (another instance, or another start) or else
/// its end (another end or status); the pair whose difference comes first
/// wins. A caller's hop ends after its callee's, so a callee that answered
/// differently is named, not every hop above it.
fn earliest_hop_change(a: &[Hop], b: &[Hop]) -> Option<HopChange> {
    let mut earliest: Option<HopChange> = None;
    for i in 0..a.len().max(b.len()) {
        let change = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x.instance != y.instance || x.start != y.start => {
                called(x, x.start.min(y.start))
            }
            (Some(x), Some(y)) if x.end != y.end || x.status != y.status => HopChange {
                instance: x.instance.to_string(),
                at: x.end.min(y.end),
                what: HopEvent::Answered,
            },
            (Some(_), Some(_)) | (None, None) => continue,
            (Some(h), None) | (None, Some(h)) => called(h, h.start),
        };
        if earliest.as_ref().is_none_or(|e| change.at < e.at) {
            earliest = Some(change);
        }
    }
    earliest
}

/// A change in how `hop` was called: its caller is named (`gateway-1#12` is
/// `gateway-1`'s attempt), or the hop itself when the workload called it.
fn called(hop: &Hop, at: Duration) -> HopChange {
    let caller = hop
        .parent
        .as_deref()
        .and_then(|p| p.split('#').next())
        .unwrap_or(&hop.instance);
    HopChange {
        instance: caller.to_owned(),
        at,
        what: HopEvent::Called {
            callee: hop.instance.to_string(),
        },
    }
}

fn ended(r: Option<&RequestRecord>) -> Ended {
    match r {
        Some(r) => Ended::Answered {
            outcome: r.outcome.clone(),
            latency: r.latency,
        },
        None => Ended::NotSent,
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Answered { outcome, latency } => {
                write!(f, "{outcome:?} after {}", fmt_duration(*latency))
            }
            Ended::NotSent => f.write_str("not sent"),
        }
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
        match self {
            Divergence::Request {
                request,
                sent,
                first,
                second,
                hop,
            } => {
                write!(
                    f,
                    "two runs of one seed differ from request {request} (sent at {}): {first} \
                     in the first, {second} in the second",
                    fmt_duration(*sent)
                )?;
                match hop {
                    Some(HopChange {
                        instance,
                        at,
                        what: HopEvent::Answered,
                    }) => write!(
                        f,
                        "; first at `{instance}`, which answered differently at {}",
                        fmt_duration(*at)
                    )?,
                    Some(HopChange {
                        instance,
                        at,
                        what: HopEvent::Called { callee },
                    }) => write!(
                        f,
                        "; first at `{instance}`, whose call to `{callee}` went differently at {}",
                        fmt_duration(*at)
                    )?,
                    None => {}
                }
            }
            Divergence::Received {
                instance,
                first,
                second,
            } => write!(
                f,
                "two runs of one seed answered every request alike, but `{instance}` received \
                 {first} requests in the first and {second} in the second"
            )?,
        }
        write!(f, "\n  (the usual causes: {USUAL_CAUSES})")
    }
}
