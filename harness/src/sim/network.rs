//! Applies fault effects to turmoil's world and undoes them, one reconciled
//! state at a time.
//!
//! turmoil keeps one state per link direction (healthy, partitioned, held), so
//! overlapping faults would clobber each other if applied blindly: healing a
//! partition would also end a pause on the same link. The run core keeps the
//! faults in force ([`FaultState`](crate::engine::FaultState)) and says what
//! they want ([`Desired`]);
//! here that becomes the wanted state of every touched turmoil link, and only
//! the difference is sent to turmoil.
//!
//! Mappings (see docs/simulator.md):
//! - kill: `crash`, healed by `bounce` (the fixture starts again);
//!   restart: `bounce`.
//! - pause: every link of the instance is held (messages parked, delivered
//!   on release), the network-visible face of a frozen process.
//! - partition / isolate: one-way or two-way explicit partitions.
//! - latency: turmoil links are symmetric, so half the delay (and jitter) is
//!   added each way: a round trip gains exactly `delay`, as egress delay on a
//!   real interface does.
//! - error: the instance's fixture [`Control`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use indexmap::IndexMap;
use squall_fixture::{Control, InjectedError};
use turmoil::Sim;

use crate::engine::Desired;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LinkState {
    held: bool,
    /// Cut from the first name of the pair to the second.
    cut_ab: bool,
    cut_ba: bool,
    delay: Duration,
    jitter: Duration,
}

/// The applied state of the simulated network and instances.
pub struct Network {
    latency_min: Duration,
    latency_max: Duration,
    hosts: Vec<String>,
    controls: IndexMap<String, Control>,
    down: BTreeSet<String>,
    links: BTreeMap<(String, String), LinkState>,
    errors: BTreeMap<String, (u16, u32)>,
}

impl Network {
    /// `hosts`: every host of the simulation, the workload's included.
    pub fn new(
        latency_min: Duration,
        latency_max: Duration,
        hosts: Vec<String>,
        controls: IndexMap<String, Control>,
    ) -> Self {
        Network {
            latency_min,
            latency_max,
            hosts,
            controls,
            down: BTreeSet::new(),
            links: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    /// Brings the simulation to the state `want`, restarting `restarts`.
    pub fn reconcile(&mut self, sim: &mut Sim<'_>, want: &Desired, restarts: &[String]) {
        self.reconcile_hosts(sim, want, restarts);
        self.reconcile_links(sim, want);
        self.reconcile_errors(want);
    }

    fn reconcile_hosts(&mut self, sim: &mut Sim<'_>, want: &Desired, restarts: &[String]) {
        for gone in want.down.difference(&self.down) {
            sim.crash(gone.as_str());
        }
        for back in self.down.difference(&want.down) {
            sim.bounce(back.as_str());
        }
        for r in restarts {
            if !want.down.contains(r) {
                sim.bounce(r.as_str());
            }
        }
        self.down = want.down.clone();
    }

    /// turmoil's link states the faults want: a paused instance's links are
    /// all held, cuts are per direction of a link named `(a, b)` with
    /// `a < b`, delays add up.
    fn wanted_links(&self, want: &Desired) -> BTreeMap<(String, String), LinkState> {
        let mut links: BTreeMap<(String, String), LinkState> = BTreeMap::new();
        let key = |a: &str, b: &str| {
            if a < b {
                ((a.to_owned(), b.to_owned()), true)
            } else {
                ((b.to_owned(), a.to_owned()), false)
            }
        };
        for i in &want.paused {
            for h in self.hosts.iter().filter(|h| *h != i) {
                links.entry(key(i, h).0).or_default().held = true;
            }
        }
        for (from, to) in &want.cuts {
            let (k, forward) = key(from, to);
            let link = links.entry(k).or_default();
            if forward {
                link.cut_ab = true;
            } else {
                link.cut_ba = true;
            }
        }
        for ((a, b), d) in &want.delays {
            let link = links.entry(key(a, b).0).or_default();
            link.delay += d.delay;
            link.jitter += d.jitter;
        }
        links
    }

    fn reconcile_links(&mut self, sim: &mut Sim<'_>, want: &Desired) {
        let want = self.wanted_links(want);
        let keys: BTreeSet<(String, String)> =
            want.keys().chain(self.links.keys()).cloned().collect();
        for k in keys {
            let new = want.get(&k).copied().unwrap_or_default();
            let old = self.links.get(&k).copied().unwrap_or_default();
            if new == old {
                continue;
            }
            let (a, b) = (k.0.as_str(), k.1.as_str());
            let reachability =
                (new.held, new.cut_ab, new.cut_ba) != (old.held, old.cut_ab, old.cut_ba);
            if reachability {
                if old.held && !new.held {
                    // Delivers what was parked and makes both ways healthy.
                    sim.release(a, b);
                } else if !new.held {
                    sim.repair(a, b);
                }
                if new.held {
                    sim.hold(a, b);
                } else if new.cut_ab && new.cut_ba {
                    sim.partition(a, b);
                } else if new.cut_ab {
                    sim.partition_oneway(a, b);
                } else if new.cut_ba {
                    sim.partition_oneway(b, a);
                }
            }
            if (new.delay, new.jitter) != (old.delay, old.jitter) {
                let min = self.latency_min + new.delay / 2;
                let max = self.latency_max + new.delay / 2 + new.jitter / 2;
                sim.set_link_latency(a, b, min);
                sim.set_link_max_message_latency(a, b, max.max(min));
            }
            if new == LinkState::default() {
                self.links.remove(&k);
            } else {
                self.links.insert(k, new);
            }
        }
    }

    fn reconcile_errors(&mut self, want: &Desired) {
        for (k, new) in want.error_changes(&self.errors) {
            if let Some(control) = self.controls.get(&k) {
                control.set_error(new.map(|(status, ppm)| InjectedError {
                    status,
                    rate: f64::from(ppm) / 1e6,
                }));
            }
        }
        self.errors = want.errors.clone();
    }
}
