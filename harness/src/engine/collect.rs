//! What a run gathers as it goes, on every backend: the workload's answers
//! into [`Figures`], and the instances' spans, taken every second of the
//! backend's clock, joined into traces ([`Joiner`]). Nothing here grows with
//! the number of requests unless the caller asked to keep them
//! ([`RunOptions::figures_only`] off).
//!
//! [`RunOptions::figures_only`]: crate::engine::RunOptions::figures_only

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::backend::Spans;
use crate::engine::request;
use crate::invariant::Figures;
use crate::record::{Hop, RequestRecord};
use crate::trace::Joiner;

/// The workload driver's handle on the [`Collector`]: requests are sent and
/// answered on the backend's tasks (turmoil's client host, or tokio's
/// threads on Docker), spans come in from the run loop.
#[derive(Clone)]
pub struct Answers(Arc<Mutex<Collector>>);

impl Answers {
    pub fn new(collector: Collector) -> Self {
        Answers(Arc::new(Mutex::new(collector)))
    }

    /// The collector; a panic on another task while it held the lock leaves
    /// figures that are still whole (every update is one call), so they are used.
    pub fn lock(&self) -> MutexGuard<'_, Collector> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Request `index` goes out, scheduled at `at`, `lag` after that instant.
    pub fn sent(&self, index: usize, at: Duration, lag: Duration) {
        self.lock().sent(index, at, lag);
    }

    /// Request `index` ended as `record` says.
    pub fn answered(&self, index: usize, record: RequestRecord) {
        self.lock().answered(index, record);
    }

    /// The collector, once every other handle is gone.
    pub fn into_inner(self) -> Option<Collector> {
        Arc::into_inner(self.0).map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Shared by the workload driver (answers) and the run loop (spans).
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

    /// Request `index` goes out, scheduled at `at`.
    pub fn sent(&mut self, index: usize, at: Duration, lag: Duration) {
        self.figures.sent(at);
        self.figures.behind.note(lag);
        self.joiner.sent(index, at);
        // Several senders report out of index order.
        if let Some(kept) = self.kept.as_mut().filter(|k| k.len() <= index) {
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

    /// Takes `spans` (those that ended, from every instance) and hands the
    /// traces that are done to the figures.
    pub fn drain(&mut self, spans: Vec<Spans>) {
        self.joiner.begin();
        self.add(spans);
        self.joiner.finish_round(&mut self.figures, false);
    }

    fn add(&mut self, spans: Vec<Spans>) {
        for s in spans {
            self.joiner.add_on(s.instance, s.drained, &s.on_load);
        }
    }

    /// The run is over: a request never answered timed out at its deadline
    /// ([`request::unanswered`]), every span left (`spans`) is taken as it
    /// is, and every figure is closed.
    pub fn finish(mut self, spans: Vec<Spans>) -> Collected {
        for (index, scheduled) in self.joiner.unanswered() {
            self.answered(index, request::unanswered(scheduled, self.deadline));
        }
        self.joiner.begin();
        self.add(spans);
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
