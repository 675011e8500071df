//! What the simulator gathers as the run goes: the workload's answers into
//! [`Figures`], and the instances' spans, drained every simulated second, into
//! traces ([`Joiner`]). Nothing here grows with the number of requests unless
//! the caller asked to keep them ([`RunOptions::figures_only`] off).
//!
//! [`RunOptions::figures_only`]: crate::engine::RunOptions::figures_only

use std::time::Duration;

use indexmap::IndexMap;
use squall_fixture::Control;

use crate::engine::request;
use crate::invariant::Figures;
use crate::record::{Hop, RequestRecord};
use crate::trace::Joiner;

/// Shared by the workload driver (answers) and the simulation loop (spans).
pub struct Collector {
    figures: Figures,
    joiner: Joiner,
    /// The caller's deadline: the latency of a request never answered.
    deadline: Duration,
    /// Every request's record, when kept.
    kept: Option<Vec<Option<RequestRecord>>>,
}

/// What a finished collection hands back.
pub struct Collected {
    pub figures: Figures,
    /// Every request and its hops, when kept.
    pub requests: Vec<RequestRecord>,
    pub traces: Vec<Vec<Hop>>,
}

impl Collector {
    /// Collects into `figures`, joining spans of `instances` (topology order, the
    /// order of the controls drained); with `keep`, also every request and hop.
    pub fn new(figures: Figures, instances: Vec<String>, deadline: Duration, keep: bool) -> Self {
        Collector {
            figures,
            joiner: Joiner::new(instances, keep),
            deadline,
            kept: keep.then(Vec::new),
        }
    }

    /// The load phase began at `load_start` on the simulation clock.
    pub fn set_load_start(&mut self, load_start: Duration) {
        self.joiner.set_load_start(load_start);
    }

    /// Request `index` goes out, scheduled at `at`.
    pub fn sent(&mut self, index: usize, at: Duration) {
        self.figures.sent(at);
        self.joiner.sent(index, at);
        if let Some(kept) = &mut self.kept {
            kept.resize(index + 1, None);
        }
    }

    /// Request `index` was answered, timed out or failed.
    pub fn answered(&mut self, index: usize, record: RequestRecord) {
        self.figures.answered(&record);
        if let Some(slot) = self.kept.as_mut().and_then(|k| k.get_mut(index)) {
            *slot = Some(record.clone());
        }
        self.joiner.answered(index, record);
    }

    /// Takes the spans that have ended from every instance and hands the traces
    /// that are done to the figures.
    pub fn drain(&mut self, controls: &IndexMap<String, Control>) {
        self.joiner.begin();
        for (i, control) in controls.values().enumerate() {
            self.joiner.add(i, control.drain_spans(false));
        }
        self.joiner.finish_round(&mut self.figures, false);
    }

    /// The run is over: a request never answered timed out at its deadline
    /// ([`request::unanswered`]), every span left is taken as it is, and every
    /// figure is closed.
    pub fn finish(mut self, controls: &IndexMap<String, Control>) -> Collected {
        for (index, scheduled) in self.joiner.unanswered() {
            self.answered(index, request::unanswered(scheduled, self.deadline));
        }
        self.joiner.begin();
        for (i, control) in controls.values().enumerate() {
            self.joiner.add(i, control.drain_spans(true));
        }
        self.joiner.finish_round(&mut self.figures, true);
        self.figures.finish();
        let requests = self
            .kept
            .map(|kept| kept.into_iter().flatten().collect())
            .unwrap_or_default();
        Collected {
            figures: self.figures,
            requests,
            traces: self.joiner.into_kept().unwrap_or_default(),
        }
    }
}
