//! When each fault changes: the plan's injections and heals as one ordered
//! list of steps, the same for every backend.
//!
//! A backend asks what is due at its clock's `now` (the simulator between
//! steps, Docker after sleeping until [`Timeline::next_at`]) and hands the
//! step to [`FaultState`](super::FaultState). At equal times heals come
//! first, so a fault that starts as another ends sees the healed state (a
//! kill healed at 30 s and a pause starting at 30 s on the same instance:
//! the instance is started, then paused).

use std::time::Duration;

use crate::fault::{Effect, PlannedFault};

/// The fault changes due at one moment: effects to remove, then effects to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// When they were due, since the start of the load phase.
    pub at: Duration,
    pub heal: Vec<Effect>,
    pub inject: Vec<Effect>,
}

impl Step {
    /// A step that only adds `effects` (tests and benchmarks drive a backend
    /// with these).
    pub fn injecting(effects: &[Effect]) -> Self {
        Step {
            inject: effects.to_vec(),
            ..Step::default()
        }
    }

    /// A step that only removes `effects`.
    pub fn healing(effects: &[Effect]) -> Self {
        Step {
            heal: effects.to_vec(),
            ..Step::default()
        }
    }
}

/// The plan's events in the order they apply.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// `(time, is_inject, fault)`, sorted: time, heals first, plan order.
    events: Vec<(Duration, bool, usize)>,
    /// The effects of each planned fault.
    effects: Vec<Vec<Effect>>,
    next: usize,
}

impl Timeline {
    /// The injections and heals of `plan`.
    pub fn new(plan: &[PlannedFault]) -> Self {
        let mut events = Vec::new();
        for (i, f) in plan.iter().enumerate() {
            events.push((f.start, true, i));
            if let Some(end) = f.end {
                events.push((end, false, i));
            }
        }
        events.sort_by_key(|&(t, inject, i)| (t, inject, i));
        Timeline {
            events,
            effects: plan.iter().map(|f| f.effects.clone()).collect(),
            next: 0,
        }
    }

    /// When the next change is due; `None` when every change was taken.
    pub fn next_at(&self) -> Option<Duration> {
        self.events.get(self.next).map(|&(t, _, _)| t)
    }

    /// Takes the changes of the earliest moment due at or before `now`;
    /// `None` when nothing is due. A clock that passed several moments gets
    /// them one call at a time, in order: a fault that starts and heals
    /// between two looks of a coarse clock is applied, then healed, never
    /// healed before it was applied.
    pub fn due(&mut self, now: Duration) -> Option<Step> {
        let at = self.next_at().filter(|&t| t <= now)?;
        let mut step = Step {
            at,
            ..Step::default()
        };
        while let Some(&(t, inject, i)) = self.events.get(self.next) {
            if t != at {
                break;
            }
            let effects = self.effects[i].iter().cloned();
            if inject {
                step.inject.extend(effects);
            } else {
                step.heal.extend(effects);
            }
            self.next += 1;
        }
        Some(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultClass;

    fn fault(index: usize, start: u64, end: Option<u64>, effect: Effect) -> PlannedFault {
        PlannedFault {
            index,
            kind: FaultClass::Kill,
            detail: String::new(),
            targets: Vec::new(),
            taken: Vec::new(),
            start: Duration::from_secs(start),
            end: end.map(Duration::from_secs),
            effects: vec![effect],
        }
    }

    fn down(name: &str) -> Effect {
        Effect::Down(name.to_owned())
    }

    #[test]
    fn heals_come_before_injections_at_equal_times() {
        let plan = [
            fault(0, 10, Some(30), down("a-1")),
            fault(1, 30, None, Effect::Pause("a-1".into())),
        ];
        let mut timeline = Timeline::new(&plan);
        assert_eq!(timeline.next_at(), Some(Duration::from_secs(10)));
        assert_eq!(timeline.due(Duration::from_secs(9)), None);
        let first = timeline.due(Duration::from_secs(10)).unwrap();
        assert_eq!(first.inject, [down("a-1")]);
        assert!(first.heal.is_empty());
        let second = timeline.due(Duration::from_secs(30)).unwrap();
        assert_eq!(second.at, Duration::from_secs(30));
        assert_eq!(second.heal, [down("a-1")]);
        assert_eq!(second.inject, [Effect::Pause("a-1".into())]);
        assert_eq!(timeline.next_at(), None);
        assert_eq!(timeline.due(Duration::MAX), None);
    }

    #[test]
    fn a_late_clock_gets_the_moments_it_passed_one_at_a_time() {
        let plan = [
            fault(0, 1, Some(2), down("a-1")),
            fault(1, 3, None, down("b-1")),
        ];
        let mut timeline = Timeline::new(&plan);
        let late = Duration::from_secs(5);
        let steps: Vec<Step> = std::iter::from_fn(|| timeline.due(late)).collect();
        let secs = |s: &Step| s.at.as_secs();
        assert_eq!(steps.iter().map(secs).collect::<Vec<_>>(), [1, 2, 3]);
        // Applied in this order, the first fault ends healed.
        assert_eq!(steps[0].inject, [down("a-1")]);
        assert_eq!(steps[1].heal, [down("a-1")]);
        assert_eq!(steps[2].inject, [down("b-1")]);
    }

    #[test]
    fn equal_times_keep_plan_order() {
        let plan = [
            fault(0, 5, None, down("b-1")),
            fault(1, 5, None, down("a-1")),
        ];
        let step = Timeline::new(&plan).due(Duration::from_secs(5)).unwrap();
        assert_eq!(step.inject, [down("b-1"), down("a-1")]);
    }
}
