//! Figures streamed as answers come, in memory that does not grow with the
//! number of requests: what invariants are judged on and `report.json` prints.
//!
//! Everything a figure depends on is known before the run starts: the phases
//! (from the fault schedule), every invariant's window, the recovery
//! invariant's one-second windows after the last heal. So each phase and each
//! invariant owns an accumulator ([`Tally`]: counts and an exact latency
//! histogram), fed as requests are answered. A request belongs to the second it
//! was scheduled in; the requests of a second are held only until the last of
//! them is answered (at most a deadline later), then the second is closed: its
//! per-second figures, its HdrHistogram interval and each window's one-second
//! bucket are worked out, and its requests dropped. Traces are joined as they
//! end ([`crate::trace::Joiner`]) and folded into work sums; only the
//! [`SLOWEST`] are kept whole, as the report prints them, and the first
//! [`FIRST_FAILURES`] requests of each failing outcome in each phase
//! ([`Figures::failures`]).
//!
//! [`Figures::of_record`] feeds a whole [`RunRecord`] through the same
//! accumulators (the Docker backend and hand-made records in tests), so there
//! is one way figures are made.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use indexmap::IndexMap;

use super::phase::{within, Phases};
use crate::record::{AppliedFault, Hop, Outcome, RequestRecord, RunRecord, Work};
use crate::scenario::{InvariantKind, Scenario, Window};
use crate::stats::{Class, Summary, Tally};

/// How many of the slowest requests are kept with their traces.
pub const SLOWEST: usize = 10;

/// How many requests of each failing outcome are kept with their traces, per phase.
pub const FIRST_FAILURES: usize = 3;

/// Orders the hops of one trace: start, then the instance (in topology order),
/// then the span's arrival number on that instance. It is the order a
/// stable sort by start gives when every instance's spans are read at the end.
pub type HopKey = (Duration, usize, u64);

/// One request of a second still open.
#[derive(Debug, Clone, Copy)]
struct Entry {
    scheduled: Duration,
    latency: Duration,
    class: Class,
}

/// A second whose requests are not all answered yet.
#[derive(Debug, Clone, Default)]
struct OpenSecond {
    /// Sent and not answered.
    pending: u64,
    entries: Vec<Entry>,
}

/// One whole second of a window, with figures of its requests inside the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// `(t, t + 1s)`, aligned to the load start.
    pub window: (Duration, Duration),
    pub timeouts: u64,
    /// The owning invariant's percentile (latency invariants).
    pub percentile: Duration,
    /// Success ratio, degraded answers counted as the owning invariant says.
    pub success: f64,
}

/// The figures of one window (a phase, or an invariant's `during`).
#[derive(Debug, Clone)]
pub struct WindowFigures {
    /// The spans it covers, after warm-up ([`Phases::spans`]).
    pub spans: Vec<(Duration, Duration)>,
    /// Every request scheduled inside it.
    pub tally: Tally,
    /// Each whole second with requests inside the window, in time order
    /// (only for invariants, which name their worst second).
    pub buckets: Vec<Bucket>,
    with_buckets: bool,
    percentile: f64,
    degraded_is_success: bool,
}

impl WindowFigures {
    fn new(spans: Vec<(Duration, Duration)>) -> Self {
        WindowFigures {
            spans,
            tally: Tally::default(),
            buckets: Vec::new(),
            with_buckets: false,
            percentile: 99.0,
            degraded_is_success: true,
        }
    }

    fn with_buckets(mut self, percentile: f64, degraded_is_success: bool) -> Self {
        self.with_buckets = true;
        self.percentile = percentile;
        self.degraded_is_success = degraded_is_success;
        self
    }

    fn second(&mut self, t: u64, entries: &[Entry]) {
        let mut bucket = Tally::default();
        for e in entries.iter().filter(|e| within(&self.spans, e.scheduled)) {
            self.tally.add(e.class, e.latency);
            if self.with_buckets {
                bucket.add(e.class, e.latency);
            }
        }
        if !bucket.is_empty() {
            let s = bucket.summary();
            let start = Duration::from_secs(t);
            self.buckets.push(Bucket {
                window: (start, start + Duration::from_secs(1)),
                timeouts: s.timeouts,
                percentile: bucket.percentile(self.percentile),
                success: s.success_ratio(self.degraded_is_success),
            });
        }
    }
}

/// How far the run after the last heal may be from the baseline and still
/// count as recovered: p99 within twice the baseline's (or 10 ms above it, for
/// very fast baselines), success at most one point below it.
const RECOVERY_P99_FACTOR: u32 = 2;
const RECOVERY_P99_SLACK: Duration = Duration::from_millis(10);
const RECOVERY_SUCCESS_SLACK: f64 = 0.01;

/// What the recovery invariant compares the windows after the last heal to,
/// from the baseline phase's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveryBounds {
    /// The baseline's p99, to the microsecond, as a report prints it.
    pub base_p99: Duration,
    /// The baseline's success, degraded answers counted as success.
    pub base_success: f64,
    /// The largest p99 that counts as recovered.
    pub p99: Duration,
    /// The lowest success that counts as recovered.
    pub success: f64,
}

impl RecoveryBounds {
    pub fn of(baseline: &Summary) -> Self {
        let base_p99 = Duration::from_micros((baseline.p99_ms * 1000.0) as u64);
        let base_success = baseline.success_ratio(true);
        RecoveryBounds {
            base_p99,
            base_success,
            p99: (base_p99 * RECOVERY_P99_FACTOR).max(base_p99 + RECOVERY_P99_SLACK),
            success: base_success - RECOVERY_SUCCESS_SLACK,
        }
    }

    /// Whether `requests` of which `slow` were slower than [`Self::p99`] and
    /// `succeeded` succeeded are within bounds: their nearest-rank p99 is at
    /// most the bound exactly when no more than `requests - rank(99%)` are
    /// slower than it.
    pub fn hold(&self, requests: u64, slow: u64, succeeded: u64) -> bool {
        if requests == 0 {
            return true;
        }
        let rank = ((0.99 * requests as f64).ceil() as u64).clamp(1, requests);
        slow <= requests - rank && succeeded as f64 / requests as f64 >= self.success
    }
}

/// One of the recovery invariant's one-second windows after the last heal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveryWindow {
    pub window: (Duration, Duration),
    pub p99: Duration,
    pub requests: u64,
    /// Requests slower than the [`RecoveryBounds::p99`] bound.
    pub slow: u64,
    /// Requests answered ok or degraded.
    pub succeeded: u64,
}

impl RecoveryWindow {
    /// Degraded answers count as success.
    pub fn success(&self) -> f64 {
        self.succeeded as f64 / self.requests.max(1) as f64
    }
}

/// The recovery invariant's windows: one second each from the last heal on.
#[derive(Debug, Clone)]
pub struct RecoveryFigures {
    heal: Option<Duration>,
    end: Duration,
    /// Worked out from the baseline when the first window closes: every
    /// request of the baseline (before the first fault) is counted by then,
    /// since seconds close in order and the heal comes after the fault.
    /// `None` while no window has closed.
    pub bounds: Option<RecoveryBounds>,
    /// Windows still filling, by their number after the heal.
    open: BTreeMap<u64, Tally>,
    /// Windows with requests, in time order.
    pub windows: Vec<RecoveryWindow>,
}

impl RecoveryFigures {
    fn window(&self, k: u64) -> (Duration, Duration) {
        let heal = self.heal.unwrap_or_default();
        let s = heal + Duration::from_secs(k);
        (s, (s + Duration::from_secs(1)).min(self.end))
    }

    /// Counts the requests of second `t`, then closes the windows that end by `t + 1`.
    fn second(&mut self, t: u64, entries: &[Entry], baseline: &Tally) {
        let Some(heal) = self.heal else { return };
        for e in entries.iter().filter(|e| e.scheduled >= heal) {
            let k = ((e.scheduled - heal).as_nanos() / 1_000_000_000) as u64;
            self.open.entry(k).or_default().add(e.class, e.latency);
        }
        let closed_to = Duration::from_secs(t + 1);
        while let Some((&k, _)) = self.open.first_key_value() {
            if self.window(k).1 > closed_to {
                break;
            }
            self.close_first(baseline);
        }
    }

    fn close_first(&mut self, baseline: &Tally) {
        let bounds = *self
            .bounds
            .get_or_insert_with(|| RecoveryBounds::of(&baseline.summary()));
        if let Some((k, tally)) = self.open.pop_first() {
            let s = tally.summary();
            self.windows.push(RecoveryWindow {
                window: self.window(k),
                // The figure as a report shows it (microseconds), as before.
                p99: Duration::from_micros((s.p99_ms * 1000.0) as u64),
                requests: s.requests,
                slow: tally.slower_than(bounds.p99),
                succeeded: s.ok + s.degraded,
            });
        }
    }
}

/// What an invariant is judged on, beside the whole-run figures.
#[derive(Debug, Clone)]
pub enum InvariantFigures {
    /// `answered`, `latency`, `success`: their window.
    Window(WindowFigures),
    /// `recovery`: the windows after the last heal (the baseline is the phase's).
    Recovery(RecoveryFigures),
    /// `amplification`, `wasted_work`: whole-run counters only.
    Run,
}

/// A failing outcome, as [`Figures::failures`] keys it.
///
/// Each error status is a kind of its own: a 503 shed by an overloaded
/// service and a 502 from a dead dependency are different failures, and the
/// first of one says nothing of the other. Degraded answers are a kind too:
/// they succeeded, but something was left out, and the trace says what. The
/// number of kinds is bounded by the statuses an HTTP answer can carry, not by
/// the number of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    Degraded,
    /// An HTTP error status.
    Error(u16),
    Failed,
    Timeout,
}

impl FailureKind {
    /// The kind of `outcome`; `None` for a complete answer.
    pub fn of(outcome: &Outcome) -> Option<Self> {
        match outcome {
            Outcome::Ok => None,
            Outcome::Degraded(_) => Some(FailureKind::Degraded),
            Outcome::Error(status) => Some(FailureKind::Error(*status)),
            Outcome::Failed => Some(FailureKind::Failed),
            Outcome::Timeout => Some(FailureKind::Timeout),
        }
    }
}

impl std::fmt::Display for FailureKind {
    /// As report.json spells outcomes: `degraded`, `error 503`, `failed`, `timeout`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureKind::Degraded => f.write_str("degraded"),
            FailureKind::Error(status) => write!(f, "error {status}"),
            FailureKind::Failed => f.write_str("failed"),
            FailureKind::Timeout => f.write_str("timeout"),
        }
    }
}

/// A request kept with its whole trace.
#[derive(Debug, Clone)]
pub struct Exemplar {
    /// Its index in the workload (`x-request-id`).
    pub index: usize,
    pub request: RequestRecord,
    /// Its hops in [`HopKey`] order, wasted work worked out.
    pub hops: Vec<(HopKey, Hop)>,
}

/// A run's figures, streamed.
#[derive(Debug, Clone)]
pub struct Figures {
    pub phases: Phases,
    warmup: Duration,
    /// Requests the workload sent.
    pub offered: u64,
    /// How far behind its schedule the driver sent them.
    pub behind: crate::workload::Behind,
    /// Every request after warm-up.
    pub totals: Tally,
    /// `baseline`, `faults`, `recovery`, in that order.
    pub phase_figures: [WindowFigures; 3],
    /// Per invariant, in file order.
    pub invariants: Vec<InvariantFigures>,
    /// Per second of the load phase (warm-up included), from 0.
    pub per_second: Vec<Summary>,
    /// Per second with requests: its latencies as an encoded HdrHistogram
    /// ([`crate::report::hlog`]).
    pub intervals: Vec<(Duration, Vec<u8>)>,
    /// Degraded answers per left-out dependency (first seen first; sorted by the report).
    pub degraded_by: IndexMap<String, u64>,
    /// Endpoint work over the run, all services.
    pub work: Work,
    /// Per service (topology order).
    pub work_by_service: IndexMap<String, Work>,
    /// Instance name -> index in `work_by_service`.
    service_of: IndexMap<String, usize>,
    /// Whether any hop of a workload request was seen.
    pub traced: bool,
    /// The [`SLOWEST`] requests after warm-up, slowest first (ties: lower index first).
    pub slowest: Vec<Exemplar>,
    /// Per phase (`baseline`, `faults`, `recovery`, as in `phase_figures`) and
    /// failing outcome, the first [`FIRST_FAILURES`] such requests (lowest
    /// indices, in index order) with their traces: at most `3 x kinds x
    /// FIRST_FAILURES`, whatever the run's length. The streamed traces come in
    /// the order they end, not the order they were sent, so a later request
    /// can take the place of a kept one; both paths keep the same.
    pub failures: BTreeMap<(usize, FailureKind), Vec<Exemplar>>,
    /// Seconds not closed yet, from `first_open` on.
    open: VecDeque<OpenSecond>,
    first_open: u64,
    /// The second of the latest request sent.
    latest_sent: u64,
    /// Seconds in the load phase (a partial last second counts).
    seconds: u64,
}

impl Figures {
    /// Empty figures for a run of `scenario` with a load phase of `duration`, the
    /// faults as applied, and the instances of each service (topology order).
    pub fn new(
        scenario: &Scenario,
        duration: Duration,
        faults: &[AppliedFault],
        services: &IndexMap<String, Vec<String>>,
    ) -> Self {
        let phases = Phases::new(
            duration,
            faults,
            scenario.workload.warmup,
            scenario.workload.deadline,
        );
        let kinds: Vec<&InvariantKind> = scenario.invariants.iter().map(|i| &i.kind).collect();
        Figures::with_invariants(phases, &kinds, services)
    }

    /// Empty figures for `phases` (warm-up excluded) and invariants of `kinds`.
    pub fn with_invariants(
        phases: Phases,
        kinds: &[&InvariantKind],
        services: &IndexMap<String, Vec<String>>,
    ) -> Self {
        let duration = phases.end;
        let warmup = phases.warmup;
        let phase_figures = [Window::Baseline, Window::Faults, Window::Recovery]
            .map(|w| WindowFigures::new(phases.spans(&w)));
        let invariants = kinds
            .iter()
            .map(|kind| match kind {
                InvariantKind::Answered { .. } => InvariantFigures::Window(
                    WindowFigures::new(phases.spans(&Window::All)).with_buckets(99.0, true),
                ),
                InvariantKind::Latency {
                    percentile, during, ..
                } => InvariantFigures::Window(
                    WindowFigures::new(phases.spans(during)).with_buckets(*percentile, true),
                ),
                InvariantKind::Success {
                    degraded_is_success,
                    during,
                    ..
                } => InvariantFigures::Window(
                    WindowFigures::new(phases.spans(during))
                        .with_buckets(99.0, *degraded_is_success),
                ),
                InvariantKind::Recovery { .. } => InvariantFigures::Recovery(RecoveryFigures {
                    heal: phases.last_heal,
                    end: phases.end,
                    bounds: None,
                    open: BTreeMap::new(),
                    windows: Vec::new(),
                }),
                InvariantKind::Amplification { .. } | InvariantKind::WastedWork { .. } => {
                    InvariantFigures::Run
                }
            })
            .collect();
        let mut service_of = IndexMap::new();
        let mut work_by_service = IndexMap::new();
        for (i, (svc, instances)) in services.iter().enumerate() {
            work_by_service.insert(svc.clone(), Work::default());
            for instance in instances {
                service_of.insert(instance.clone(), i);
            }
        }
        Figures {
            warmup,
            seconds: duration.as_secs() + u64::from(duration.subsec_nanos() > 0),
            phases,
            offered: 0,
            behind: Default::default(),
            totals: Tally::default(),
            phase_figures,
            invariants,
            per_second: Vec::new(),
            intervals: Vec::new(),
            degraded_by: IndexMap::new(),
            work: Work::default(),
            work_by_service,
            service_of,
            traced: false,
            slowest: Vec::new(),
            failures: BTreeMap::new(),
            open: VecDeque::new(),
            first_open: 0,
            latest_sent: 0,
        }
    }

    /// The figures of a whole record: its requests in order, then its traces.
    pub fn of_record(scenario: &Scenario, record: &RunRecord) -> Self {
        let services = Figures::services_of(record);
        let mut f = Figures::new(scenario, record.duration, &record.faults, &services);
        f.feed(record);
        f
    }

    /// Services and their instances as a record counts them.
    pub fn services_of(record: &RunRecord) -> IndexMap<String, Vec<String>> {
        record
            .received
            .iter()
            .map(|(svc, instances)| (svc.clone(), instances.keys().cloned().collect()))
            .collect()
    }

    /// Feeds a whole record: its requests in order, then its traces, then closes.
    pub fn feed(&mut self, record: &RunRecord) {
        let f = self;
        for r in &record.requests {
            f.sent(r.scheduled);
            f.answered(r);
        }
        for (i, r) in record.requests.iter().enumerate() {
            let hops = record
                .traces
                .get(i)
                .map(|hops| {
                    hops.iter()
                        .enumerate()
                        .map(|(j, h)| ((h.start, 0, j as u64), h.clone()))
                        .collect()
                })
                .unwrap_or_default();
            f.trace(i, Some(r), hops);
        }
        f.finish();
    }

    /// A request was sent, scheduled at `at` (requests are sent in scheduled order).
    pub fn sent(&mut self, at: Duration) {
        self.offered += 1;
        let t = at.as_secs();
        self.latest_sent = self.latest_sent.max(t);
        self.slot(t).pending += 1;
        self.close_ready();
    }

    /// A request sent earlier was answered (or given up on).
    pub fn answered(&mut self, r: &RequestRecord) {
        if let Outcome::Degraded(names) = &r.outcome {
            for n in names {
                match self.degraded_by.get_mut(n) {
                    Some(count) => *count += 1,
                    None => {
                        self.degraded_by.insert(n.clone(), 1);
                    }
                }
            }
        }
        let slot = self.slot(r.scheduled.as_secs());
        slot.pending = slot.pending.saturating_sub(1);
        slot.entries.push(Entry {
            scheduled: r.scheduled,
            latency: r.latency,
            class: Class::of(&r.outcome),
        });
        self.close_ready();
    }

    /// A request's trace, once every hop of it has ended: `request` is its record
    /// (`None` for hops that came after the request was traced, whose wasted work
    /// the joiner has worked out already); `hops` in [`HopKey`] order.
    pub fn trace(
        &mut self,
        index: usize,
        request: Option<&RequestRecord>,
        hops: Vec<(HopKey, Hop)>,
    ) {
        for (_, hop) in &hops {
            self.traced = true;
            if let Some((start, end)) = hop.work {
                let total = end.saturating_sub(start);
                self.work.total += total;
                self.work.wasted += hop.wasted;
                if let Some(w) = self
                    .service_of
                    .get(&*hop.instance)
                    .and_then(|&i| self.work_by_service.get_index_mut(i))
                {
                    w.1.total += total;
                    w.1.wasted += hop.wasted;
                }
            }
        }
        match request {
            Some(r) => self.offer(index, r, hops),
            None => {
                let kept = self
                    .slowest
                    .iter_mut()
                    .chain(self.failures.values_mut().flatten());
                for x in kept.filter(|x| x.index == index) {
                    x.hops.extend(hops.iter().cloned());
                    x.hops.sort_by_key(|(key, _)| *key);
                }
            }
        }
    }

    /// Keeps the request if it is among the first of its failing outcome in its phase.
    fn offer_failure(&mut self, index: usize, r: &RequestRecord, hops: &[(HopKey, Hop)]) {
        let Some(kind) = FailureKind::of(&r.outcome) else {
            return;
        };
        let Some(phase) = self
            .phase_figures
            .iter()
            .position(|w| within(&w.spans, r.scheduled))
        else {
            return;
        };
        let kept = self.failures.entry((phase, kind)).or_default();
        let at = kept.partition_point(|x| x.index < index);
        if at >= FIRST_FAILURES {
            return;
        }
        kept.insert(
            at,
            Exemplar {
                index,
                request: r.clone(),
                hops: hops.to_vec(),
            },
        );
        kept.truncate(FIRST_FAILURES);
    }

    /// Keeps the request if it is among the slowest after warm-up so far.
    fn offer(&mut self, index: usize, r: &RequestRecord, hops: Vec<(HopKey, Hop)>) {
        self.offer_failure(index, r, &hops);
        if r.scheduled < self.warmup {
            return;
        }
        let key = (Reverse(r.latency), index);
        let at = self
            .slowest
            .partition_point(|x| (Reverse(x.request.latency), x.index) < key);
        if at >= SLOWEST {
            return;
        }
        self.slowest.insert(
            at,
            Exemplar {
                index,
                request: r.clone(),
                hops,
            },
        );
        self.slowest.truncate(SLOWEST);
    }

    /// Closes every second still open, once the run is over and every request
    /// was answered or given up on.
    pub fn finish(&mut self) {
        self.latest_sent = u64::MAX;
        while let Some(second) = self.open.pop_front() {
            self.close(second);
        }
        while (self.per_second.len() as u64) < self.seconds {
            self.close(OpenSecond::default());
        }
        let baseline = &self.phase_figures[0].tally;
        for inv in &mut self.invariants {
            if let InvariantFigures::Recovery(r) = inv {
                while !r.open.is_empty() {
                    r.close_first(baseline);
                }
            }
        }
    }

    fn slot(&mut self, t: u64) -> &mut OpenSecond {
        // Seconds before `first_open` are closed; requests only come for open ones.
        let t = t.max(self.first_open);
        let i = (t - self.first_open) as usize;
        while self.open.len() <= i {
            self.open.push_back(OpenSecond::default());
        }
        &mut self.open[i]
    }

    /// Closes the oldest seconds whose requests have all been answered and
    /// after which a request was sent at least a second later: several
    /// senders (the real-time driver) report their sends a little out of
    /// order, and a second must not close before its last request is in.
    fn close_ready(&mut self) {
        while let Some(front) = self.open.front() {
            if front.pending > 0 || self.latest_sent <= self.first_open + 1 {
                break;
            }
            if let Some(second) = self.open.pop_front() {
                self.close(second);
            }
        }
    }

    fn close(&mut self, second: OpenSecond) {
        let t = self.first_open;
        debug_assert_eq!(self.per_second.len() as u64, t, "seconds close in order");
        self.first_open += 1;
        let entries = second.entries;
        let mut all = Tally::default();
        for e in &entries {
            all.add(e.class, e.latency);
            if e.scheduled >= self.warmup {
                self.totals.add(e.class, e.latency);
            }
        }
        self.per_second.push(all.summary());
        if !entries.is_empty() {
            self.intervals.push((
                Duration::from_secs(t),
                crate::report::hlog::encode(entries.iter().map(|e| e.latency)),
            ));
        }
        for w in &mut self.phase_figures {
            w.second(t, &entries);
        }
        for inv in &mut self.invariants {
            match inv {
                InvariantFigures::Window(w) => w.second(t, &entries),
                InvariantFigures::Recovery(r) => {
                    r.second(t, &entries, &self.phase_figures[0].tally)
                }
                InvariantFigures::Run => {}
            }
        }
    }
}
