//! From a case number to a fault schedule: proptest strategies built from
//! `[explore]`, driven by an RNG derived from the explore seed and the case
//! number alone, so a case is the same whichever process or job draws it.
//!
//! A case is drawn as raw numbers ([`RawFault`]), each shrinking towards a
//! simpler schedule: fewer faults (the vector), a milder kind (`kind` indexes
//! the enabled kinds mildest first), the first target and instance, a later
//! start (`back` counts back from the latest start), a shorter length, a
//! smaller delay, jitter and error rate. [`Space::schedule`] turns them into
//! scenario [`Fault`]s and drops those that would break the concurrency limits.

use std::time::Duration;

use indexmap::IndexMap;
use proptest::collection::vec;
use proptest::sample::subsequence;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::scenario::{
    format_duration, ExploreConfig, ExploreKind, ExploreTarget, Fault, FaultKind, LinkScope,
    Scenario, Target,
};
use crate::topology::derive_seed;

/// Explored fault times are multiples of this past the window's start.
pub const TIME_STEP: Duration = Duration::from_millis(100);

/// For concurrency limits a restart (over at once) counts as a fault this long:
/// the instance is back, but its callers are still reconnecting.
const RESTART_SPAN: Duration = Duration::from_secs(1);

/// Instance draws are taken modulo the replicas; this bounds the draw.
const INSTANCE_DRAWS: u32 = 64;

/// One drawn fault before it is mapped onto the scenario: kind index, target
/// index, instance draw, steps back from the latest start, extra length
/// steps, delay (ms), jitter (ms), error rate (per mille), status index.
pub type RawFault = (u8, usize, u32, u64, u64, u64, u64, u32, usize);

/// The space one scenario's cases are drawn from, for one load-phase length.
#[derive(Debug, Clone)]
pub struct Space {
    pub config: ExploreConfig,
    /// Length of the load phase every case runs.
    pub duration: Duration,
    /// Explored faults start at or after `window_start` and heal by `window_end`.
    pub window_start: Duration,
    pub window_end: Duration,
    /// The scenario's own faults that fall inside `duration`, clipped to it.
    pub own: Vec<Fault>,
    /// The workload's deadline: how long a fault's effects outlive its heal.
    deadline: Duration,
    /// For each service, the services that call it (partition sides).
    callers: IndexMap<String, Vec<String>>,
    avail_steps: u64,
    extra_steps: u64,
}

/// A load phase too short for any explored fault: they start at `start` or
/// later, last at least `length_min` and heal `settle` before the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a load phase of {} leaves no room for an explored fault: faults start at {} or later, \
     last at least {} and heal {} before the end (hint: a longer `--duration`, or lower \
     `start`, `length` or `settle` in `[explore]`)",
    format_duration(*duration),
    format_duration(*start),
    format_duration(*length_min),
    format_duration(*settle)
)]
pub struct NoRoom {
    pub duration: Duration,
    pub start: Duration,
    pub length_min: Duration,
    pub settle: Duration,
}

/// One case: its number, the seed its run uses, the kinds it enabled, and the
/// value tree its schedule comes from (what shrinking walks).
pub struct Case {
    pub number: u64,
    pub run_seed: u64,
    pub kinds: Vec<ExploreKind>,
    pub tree: Box<dyn ValueTree<Value = Vec<RawFault>>>,
}

impl Space {
    /// The space for `scenario` (whose `[explore]` is `config`) at a load
    /// phase of `duration`, or why no fault fits in it.
    pub fn new(
        scenario: &Scenario,
        config: ExploreConfig,
        duration: Duration,
    ) -> Result<Space, NoRoom> {
        let window_start = config
            .start
            .unwrap_or(scenario.workload.warmup + Duration::from_secs(1));
        let window_end = duration.saturating_sub(config.settle);
        if window_end < window_start + config.length_min {
            return Err(NoRoom {
                duration,
                start: window_start,
                length_min: config.length_min,
                settle: config.settle,
            });
        }
        let step = TIME_STEP.as_nanos();
        let avail_steps =
            ((window_end - window_start - config.length_min).as_nanos() / step) as u64;
        let extra_steps = ((config.length_max - config.length_min).as_nanos() / step) as u64;
        let own = scenario
            .faults
            .iter()
            .filter(|f| f.at < duration)
            .map(|f| Fault {
                until: f.until.filter(|u| *u <= duration),
                ..f.clone()
            })
            .collect();
        let mut callers: IndexMap<String, Vec<String>> = IndexMap::new();
        for (name, svc) in &scenario.services {
            for call in svc.endpoints.values().flat_map(|e| &e.calls) {
                let list = callers.entry(call.to.clone()).or_default();
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        Ok(Space {
            config,
            duration,
            window_start,
            window_end,
            own,
            deadline: scenario.workload.deadline,
            callers,
            avail_steps,
            extra_steps,
        })
    }

    /// The strategy of a case's raw schedule.
    pub fn strategy(&self) -> BoxedStrategy<Vec<RawFault>> {
        let c = &self.config;
        let ms = |d: Duration| d.as_millis() as u64;
        let permille = |r: f64| (r * 1000.0).round() as u32;
        let fault = (
            0..ExploreKind::ALL.len() as u8,
            0..c.targets.len(),
            0..INSTANCE_DRAWS,
            0..=self.avail_steps,
            0..=self.extra_steps,
            ms(c.delay_min).max(1)..=ms(c.delay_max).max(1),
            ms(c.jitter_min)..=ms(c.jitter_max),
            permille(c.error_rate_min).max(1)..=permille(c.error_rate_max).max(1),
            0..c.status.len(),
        );
        vec(fault, c.min_faults..=c.max_faults).boxed()
    }

    /// Draws case `number` of the exploration seeded with `seed`.
    pub fn case(&self, seed: u64, number: u64) -> Case {
        let case_seed = derive_seed(seed, number);
        let mut bytes = [0u8; 32];
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&derive_seed(case_seed, 1 + i as u64).to_le_bytes());
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let all = self.config.kinds.clone();
        // Swarm testing: the case enables some kinds only, so a case with
        // three faults is often three of one or two kinds, which reaches
        // combinations a uniform draw over every kind rarely does.
        let kinds = if self.config.swarm && all.len() > 1 {
            let n = all.len();
            let mut kinds = subsequence(all, 1..=n)
                .new_tree(&mut runner)
                .expect("subsequence never rejects")
                .current();
            kinds.sort();
            kinds
        } else {
            all
        };
        let tree = self
            .strategy()
            .new_tree(&mut runner)
            .expect("fault strategies never reject");
        Case {
            number,
            // 63 bits: a scenario's `seed` is a TOML integer (an i64).
            run_seed: derive_seed(case_seed, 0) >> 1,
            kinds,
            tree: Box::new(tree),
        }
    }

    /// The explored faults a raw draw stands for, in start order, without
    /// those that would exceed `max_concurrent` or
    /// `max_concurrent_per_service` (the scenario's own faults count).
    pub fn schedule(&self, kinds: &[ExploreKind], raw: &[RawFault]) -> Vec<Fault> {
        let mut drawn: Vec<Fault> = raw.iter().map(|r| self.fault(kinds, r)).collect();
        drawn.sort_by_key(|f| f.at);
        let mut kept: Vec<Fault> = Vec::new();
        for f in drawn {
            if self.fits(&f, &kept) {
                kept.push(f);
            }
        }
        kept
    }

    fn fault(&self, kinds: &[ExploreKind], r: &RawFault) -> Fault {
        let &(kind, target, draw, back, extra, delay, jitter, rate, status) = r;
        let c = &self.config;
        let kind = kinds[kind as usize % kinds.len()];
        let target = match &c.targets[target] {
            ExploreTarget::Service { name, replicas } => Target::Instance {
                service: name.clone(),
                index: 1 + draw % replicas,
            },
            ExploreTarget::Instance { service, index } => Target::Instance {
                service: service.clone(),
                index: *index,
            },
        };
        let at = self.window_start + TIME_STEP * (self.avail_steps - back) as u32;
        let until = (at + c.length_min + TIME_STEP * extra as u32).min(self.window_end);
        let kind = match kind {
            ExploreKind::Latency => FaultKind::Latency {
                scope: LinkScope::Instance(target),
                delay: Duration::from_millis(delay),
                jitter: Duration::from_millis(jitter),
            },
            ExploreKind::Error => FaultKind::Error {
                target,
                status: c.status[status],
                rate: f64::from(rate) / 1000.0,
            },
            ExploreKind::Pause => FaultKind::Pause { target },
            ExploreKind::Restart => FaultKind::Restart { target },
            ExploreKind::Kill => FaultKind::Kill { target },
            ExploreKind::Isolate => FaultKind::Isolate { target },
            ExploreKind::Partition => {
                let callers = self
                    .callers
                    .get(target.service())
                    .cloned()
                    .unwrap_or_default();
                if callers.is_empty() {
                    // Only the workload calls it: cutting it from its callers
                    // is isolating it.
                    FaultKind::Isolate { target }
                } else {
                    FaultKind::Partition {
                        sides: (
                            callers.into_iter().map(Target::Service).collect(),
                            vec![target],
                        ),
                        one_way: false,
                    }
                }
            }
        };
        let until = match kind {
            FaultKind::Restart { .. } => None,
            _ => Some(until),
        };
        Fault {
            kind,
            at,
            until,
            line: 0,
            col: 0,
        }
    }

    /// Whether `f` can join `kept` and the scenario's own faults without more
    /// than the allowed number of faults at once, overall or on a service.
    fn fits(&self, f: &Fault, kept: &[Fault]) -> bool {
        let (start, end) = self.span(f);
        let services = services_of(f);
        let others: Vec<&Fault> = self.own.iter().chain(kept).collect();
        // The most faults at once inside [start, end) is reached at `start`
        // or at a start of another fault inside it.
        let mut points = vec![start];
        points.extend(
            others
                .iter()
                .map(|o| self.span(o).0)
                .filter(|s| *s > start && *s < end),
        );
        points.iter().all(|&t| {
            let active: Vec<&&Fault> = others
                .iter()
                .filter(|o| {
                    let (s, e) = self.span(o);
                    s <= t && t < e
                })
                .collect();
            if active.len() + 1 > self.config.max_concurrent {
                return false;
            }
            services.iter().all(|svc| {
                let on = active
                    .iter()
                    .filter(|o| services_of(o).contains(svc))
                    .count();
                on < self.config.max_concurrent_per_service
            })
        })
    }

    /// When a fault counts as active for the limits: from its start until
    /// its heal plus the workload's deadline, because requests it delayed are
    /// still in flight (a retry that left a replica as its fault healed can
    /// meet the next fault on another replica: explore found that on
    /// card-auth when two ledger faults were back to back).
    fn span(&self, f: &Fault) -> (Duration, Duration) {
        let end = match f.kind {
            FaultKind::Restart { .. } => f.at + RESTART_SPAN,
            _ => f.until.unwrap_or(self.duration),
        };
        (f.at, end + self.deadline)
    }

    /// The scenario a case runs: `base` with its own faults (clipped to the
    /// load phase) followed by `explored`, and the load phase's length.
    pub fn scenario(&self, base: &Scenario, explored: &[Fault]) -> Scenario {
        let mut s = base.clone();
        s.duration = self.duration;
        s.faults = self.own.iter().chain(explored).cloned().collect();
        s
    }
}

/// The services a fault degrades: its target's, or those of both sides.
fn services_of(f: &Fault) -> Vec<String> {
    let one = |t: &Target| vec![t.service().to_owned()];
    match &f.kind {
        FaultKind::Kill { target }
        | FaultKind::Restart { target }
        | FaultKind::Pause { target }
        | FaultKind::Isolate { target }
        | FaultKind::Error { target, .. } => one(target),
        FaultKind::Latency { scope, .. } | FaultKind::Loss { scope, .. } => match scope {
            LinkScope::Instance(t) => one(t),
            LinkScope::Between(a, b) => vec![a.service().to_owned(), b.service().to_owned()],
        },
        // A partition hurts the side that is called; counting both would
        // make a partition use up the limit of every caller too.
        FaultKind::Partition { sides, .. } => {
            sides.1.iter().map(|t| t.service().to_owned()).collect()
        }
    }
}

/// One line for a person: `kill db-2 at 3.4s for 1.2s`.
pub fn describe(f: &Fault) -> String {
    let what = match &f.kind {
        FaultKind::Kill { target } => format!("kill {target}"),
        FaultKind::Restart { target } => format!("restart {target}"),
        FaultKind::Pause { target } => format!("pause {target}"),
        FaultKind::Isolate { target } => format!("isolate {target}"),
        FaultKind::Latency {
            scope,
            delay,
            jitter,
        } => {
            let on = match scope {
                LinkScope::Instance(t) => t.to_string(),
                LinkScope::Between(a, b) => format!("{a}<->{b}"),
            };
            let jitter = if jitter.is_zero() {
                String::new()
            } else {
                format!(" (jitter {})", crate::report::fmt_duration(*jitter))
            };
            format!(
                "latency {on} +{}{jitter}",
                crate::report::fmt_duration(*delay)
            )
        }
        FaultKind::Loss { scope, rate } => format!("loss {scope:?} {rate}"),
        FaultKind::Error {
            target,
            status,
            rate,
        } => format!("error {target} {status} x{rate}"),
        FaultKind::Partition { sides, one_way } => {
            let side = |s: &[Target]| {
                s.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let arrow = if *one_way { "->" } else { "|" };
            format!("partition {} {arrow} {}", side(&sides.0), side(&sides.1))
        }
    };
    match f.until {
        Some(u) => format!(
            "{what} at {} for {}",
            crate::report::fmt_duration(f.at),
            crate::report::fmt_duration(u - f.at)
        ),
        None => format!("{what} at {}", crate::report::fmt_duration(f.at)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const TEXT: &str = r#"
duration = "30s"
[workload]
target = "api"
path = "/get"
rate = 100
deadline = "200ms"
warmup = "2s"
[services.api.endpoints."/get"]
calls = [{ to = "db", path = "/read", timeout = "50ms" }]
[services.db]
replicas = 3
[services.db.endpoints."/read"]
work = "1ms"
[[faults]]
kind = "kill"
target = "db-1"
at = "5s"
for = "10s"
[explore]
targets = ["db", "api"]
max_faults = 5
max_concurrent = 2
max_concurrent_per_service = 1
"#;

    fn space(duration: Duration) -> (Scenario, Space) {
        let scenario = crate::scenario::parse(TEXT, Path::new("t.toml")).unwrap();
        let config = scenario.explore.clone().unwrap();
        let space = Space::new(&scenario, config, duration).unwrap();
        (scenario, space)
    }

    #[test]
    fn the_same_case_is_drawn_twice_and_cases_differ() {
        let (_, space) = space(Duration::from_secs(30));
        let a = space.case(7, 3);
        let b = space.case(7, 3);
        assert_eq!(a.tree.current(), b.tree.current());
        assert_eq!((a.kinds.clone(), a.run_seed), (b.kinds.clone(), b.run_seed));
        let c = space.case(7, 4);
        assert_ne!(a.tree.current(), c.tree.current());
    }

    #[test]
    fn schedules_stay_in_the_window_and_the_limits() {
        let (_, space) = space(Duration::from_secs(30));
        for n in 0..200 {
            let case = space.case(1, n);
            let faults = space.schedule(&case.kinds, &case.tree.current());
            assert!(faults.len() <= 5);
            for f in &faults {
                assert!(f.at >= Duration::from_secs(3), "{f:?}");
                assert!(f.until.unwrap_or(f.at) <= Duration::from_secs(25), "{f:?}");
                assert!(case.kinds.iter().any(|k| describe(f).starts_with(k.name())
                    || (*k == ExploreKind::Partition && describe(f).starts_with("isolate"))));
            }
            // db-1 is down 5s..15s: no explored db fault overlaps it.
            for f in faults.iter().filter(|f| services_of(f) == ["db"]) {
                let (s, e) = space.span(f);
                assert!(
                    e <= Duration::from_secs(5) || s >= Duration::from_secs(15),
                    "{f:?}"
                );
            }
        }
    }

    #[test]
    fn a_short_run_leaves_no_room() {
        let scenario = crate::scenario::parse(TEXT, Path::new("t.toml")).unwrap();
        let config = scenario.explore.clone().unwrap();
        let err = Space::new(&scenario, config, Duration::from_secs(8))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a load phase of 8s leaves no room"),
            "{err}"
        );
    }
}
