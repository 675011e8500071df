//! The faults in force, and the state they want every instance and link in.
//!
//! Faults overlap: a pause during a kill, two latency faults on one link, a
//! partition healing while an isolation of the same instance goes on. Applied
//! blindly, one heal would undo another fault's change. So the active effects
//! are kept as a multiset ([`FaultState`]), and after every step the wanted
//! state is worked out from all of them ([`Desired`]); a backend compares it
//! with what it has applied and changes only the difference, each in its own
//! mechanism (turmoil's links, the engine's containers, nft rules, the latency
//! proxy, the fixture's admin endpoint). This is the one place that decides
//! what overlapping faults mean.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::timeline::Step;
use crate::fault::Effect;

/// Extra delay on a link, both ways together: a round trip gains `delay`,
/// plus up to `jitter`. Overlapping latency faults add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkDelay {
    pub delay: Duration,
    pub jitter: Duration,
}

/// What the active faults want, instance by instance and link by link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    /// Instances that must be down (killed and not yet healed).
    pub down: BTreeSet<String>,
    /// Instances that must be frozen. May include down ones: a backend that
    /// cannot pause a stopped instance skips those ([`Desired::paused_up`]).
    pub paused: BTreeSet<String>,
    /// Directed cuts: traffic from the first instance to the second is dropped.
    pub cuts: BTreeSet<(String, String)>,
    /// Extra delay per unordered link `(a, b)`, `a < b`.
    pub delays: BTreeMap<(String, String), LinkDelay>,
    /// Packet loss per unordered link `(a, b, ppm)`; two faults with
    /// different rates on one link both apply.
    pub loss: BTreeSet<(String, String, u32)>,
    /// Injected error per instance, `(status, ppm)`; where error faults
    /// overlap on one instance, the one applied last wins.
    pub errors: BTreeMap<String, (u16, u32)>,
}

impl Desired {
    /// What `effects` alone want (for a test or a benchmark that applies
    /// faults by hand; a run goes through [`FaultState`]).
    pub fn of(effects: &[Effect]) -> Desired {
        let mut faults = FaultState::default();
        faults.apply(&Step::injecting(effects));
        faults.desired()
    }

    /// The paused instances that are not down.
    pub fn paused_up(&self) -> impl Iterator<Item = &String> {
        self.paused.iter().filter(|p| !self.down.contains(*p))
    }

    /// Every instance any wanted state names: down, paused, on a cut, a
    /// delayed or lossy link, or answering errors.
    pub fn touched(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.down.union(&self.paused).cloned().collect();
        for (a, b) in &self.cuts {
            out.extend([a.clone(), b.clone()]);
        }
        for (a, b) in self.delays.keys() {
            out.extend([a.clone(), b.clone()]);
        }
        for (a, b, _) in &self.loss {
            out.extend([a.clone(), b.clone()]);
        }
        out.extend(self.errors.keys().cloned());
        out
    }

    /// This state without anything that names an instance of `left_out`
    /// (a game day's target refused at its moment).
    pub fn without(&self, left_out: &BTreeSet<String>) -> Desired {
        let keep = |n: &String| !left_out.contains(n);
        Desired {
            down: self.down.iter().filter(|n| keep(n)).cloned().collect(),
            paused: self.paused.iter().filter(|n| keep(n)).cloned().collect(),
            cuts: self
                .cuts
                .iter()
                .filter(|(a, b)| keep(a) && keep(b))
                .cloned()
                .collect(),
            delays: self
                .delays
                .iter()
                .filter(|((a, b), _)| keep(a) && keep(b))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            loss: self
                .loss
                .iter()
                .filter(|(a, b, _)| keep(a) && keep(b))
                .cloned()
                .collect(),
            errors: self
                .errors
                .iter()
                .filter(|(n, _)| keep(n))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        }
    }

    /// What the state wants of `name`, in words (`down`, `paused`, `cut`,
    /// `delayed`, `lossy`, `errors`), for a game day's audit log.
    pub fn of_instance(&self, name: &str) -> Vec<&'static str> {
        let on = |a: &str, b: &str| a == name || b == name;
        let mut out = Vec::new();
        if self.down.contains(name) {
            out.push("down");
        }
        if self.paused.contains(name) {
            out.push("paused");
        }
        if self.cuts.iter().any(|(a, b)| on(a, b)) {
            out.push("cut");
        }
        if self.delays.keys().any(|(a, b)| on(a, b)) {
            out.push("delayed");
        }
        if self.loss.iter().any(|(a, b, _)| on(a, b)) {
            out.push("lossy");
        }
        if self.errors.contains_key(name) {
            out.push("errors");
        }
        out
    }

    /// Whether traffic from `from` to `to` is cut.
    pub fn is_cut(&self, from: &str, to: &str) -> bool {
        self.cuts.contains(&(from.to_owned(), to.to_owned()))
    }

    /// The injected errors that differ from `applied`, in name order: the new
    /// `(status, ppm)`, or `None` to clear it.
    pub fn error_changes(
        &self,
        applied: &BTreeMap<String, (u16, u32)>,
    ) -> Vec<(String, Option<(u16, u32)>)> {
        let keys: BTreeSet<&String> = self.errors.keys().chain(applied.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let new = self.errors.get(k).copied();
                (new != applied.get(k).copied()).then(|| (k.clone(), new))
            })
            .collect()
    }
}

/// The multiset of effects in force.
#[derive(Debug, Clone, Default)]
pub struct FaultState {
    active: Vec<Effect>,
}

impl FaultState {
    /// Removes the step's healed effects (one occurrence each) and adds its
    /// injected ones. Returns the instances to restart now: a restart is an
    /// event, not a state, so it never enters the multiset.
    pub fn apply(&mut self, step: &Step) -> Vec<String> {
        for effect in &step.heal {
            if let Some(pos) = self.active.iter().position(|e| e == effect) {
                self.active.swap_remove(pos);
            }
        }
        let mut restarts = Vec::new();
        for effect in &step.inject {
            match effect {
                Effect::Restart(i) => restarts.push(i.clone()),
                other => self.active.push(other.clone()),
            }
        }
        restarts
    }

    /// A step that heals everything in force (at the end of a run, or when it
    /// stops early).
    pub fn heal_all(&self, at: Duration) -> Step {
        Step {
            at,
            heal: self.active.clone(),
            inject: Vec::new(),
        }
    }

    /// Whether any fault is in force.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The state the effects in force want.
    pub fn desired(&self) -> Desired {
        let mut want = Desired::default();
        for effect in &self.active {
            match effect {
                Effect::Down(i) => {
                    want.down.insert(i.clone());
                }
                // Never in the multiset ([`FaultState::apply`]).
                Effect::Restart(_) => {}
                Effect::Pause(i) => {
                    want.paused.insert(i.clone());
                }
                Effect::Cut { from, to } => {
                    want.cuts.insert((from.clone(), to.clone()));
                }
                Effect::Delay {
                    a,
                    b,
                    delay,
                    jitter,
                } => {
                    let link = want.delays.entry((a.clone(), b.clone())).or_default();
                    link.delay += *delay;
                    link.jitter += *jitter;
                }
                Effect::Loss { a, b, ppm } => {
                    want.loss.insert((a.clone(), b.clone(), *ppm));
                }
                Effect::Error {
                    instance,
                    status,
                    ppm,
                } => {
                    want.errors.insert(instance.clone(), (*status, *ppm));
                }
            }
        }
        want
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(heal: Vec<Effect>, inject: Vec<Effect>) -> Step {
        Step {
            at: Duration::ZERO,
            heal,
            inject,
        }
    }

    fn cut(from: &str, to: &str) -> Effect {
        Effect::Cut {
            from: from.into(),
            to: to.into(),
        }
    }

    fn delay(ms: u64) -> Effect {
        Effect::Delay {
            a: "a-1".into(),
            b: "b-1".into(),
            delay: Duration::from_millis(ms),
            jitter: Duration::from_millis(ms / 10),
        }
    }

    #[test]
    fn healing_one_of_two_equal_faults_keeps_the_other() {
        let mut state = FaultState::default();
        state.apply(&step(vec![], vec![cut("a-1", "b-1")]));
        state.apply(&step(vec![], vec![cut("a-1", "b-1")]));
        state.apply(&step(vec![cut("a-1", "b-1")], vec![]));
        assert!(state.desired().is_cut("a-1", "b-1"));
        assert!(!state.desired().is_cut("b-1", "a-1"));
        state.apply(&step(vec![cut("a-1", "b-1")], vec![]));
        assert_eq!(state.desired(), Desired::default());
        assert!(state.is_empty());
    }

    #[test]
    fn overlapping_delays_add_up_and_heal_apart() {
        let mut state = FaultState::default();
        state.apply(&step(vec![], vec![delay(100), delay(40)]));
        let key = ("a-1".to_owned(), "b-1".to_owned());
        let both = state.desired().delays[&key];
        assert_eq!(both.delay, Duration::from_millis(140));
        assert_eq!(both.jitter, Duration::from_millis(14));
        state.apply(&step(vec![delay(100)], vec![]));
        assert_eq!(
            state.desired().delays[&key].delay,
            Duration::from_millis(40)
        );
    }

    #[test]
    fn a_restart_is_an_event_not_a_state() {
        let mut state = FaultState::default();
        let restarts = state.apply(&step(vec![], vec![Effect::Restart("a-1".into())]));
        assert_eq!(restarts, ["a-1"]);
        assert!(state.is_empty());
    }

    #[test]
    fn a_paused_instance_that_is_down_is_not_paused_up() {
        let mut state = FaultState::default();
        state.apply(&step(
            vec![],
            vec![
                Effect::Pause("a-1".into()),
                Effect::Pause("b-1".into()),
                Effect::Down("a-1".into()),
            ],
        ));
        let want = state.desired();
        assert_eq!(want.paused.len(), 2);
        assert_eq!(want.paused_up().collect::<Vec<_>>(), ["b-1"]);
    }

    #[test]
    fn the_error_applied_last_wins_and_changes_name_only_what_differs() {
        let error = |status, ppm| Effect::Error {
            instance: "a-1".into(),
            status,
            ppm,
        };
        let mut state = FaultState::default();
        state.apply(&step(
            vec![],
            vec![error(503, 500_000), error(500, 100_000)],
        ));
        let want = state.desired();
        assert_eq!(want.errors["a-1"], (500, 100_000));
        let mut applied = BTreeMap::new();
        assert_eq!(
            want.error_changes(&applied),
            [("a-1".to_owned(), Some((500, 100_000)))]
        );
        applied.insert("a-1".to_owned(), (500, 100_000));
        applied.insert("b-1".to_owned(), (503, 1));
        assert_eq!(want.error_changes(&applied), [("b-1".to_owned(), None)]);
    }

    #[test]
    fn heal_all_leaves_nothing_in_force() {
        let mut state = FaultState::default();
        state.apply(&step(vec![], vec![Effect::Down("a-1".into()), delay(5)]));
        let heal = state.heal_all(Duration::from_secs(9));
        assert_eq!(heal.at, Duration::from_secs(9));
        state.apply(&heal);
        assert!(state.is_empty());
    }
}
