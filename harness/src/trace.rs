//! Traces: every instance's spans joined into one call tree per workload request.
//!
//! Each fixture instance keeps a [`Span`] per request it served, keyed by the workload's
//! `x-request-id` and linked to its caller's attempt ([`squall_fixture::trace`]). Docker collects
//! them at the end of a run (over `GET /squall/spans`) and hands them to [`Traces`] with a
//! function that puts the instance's clock on the load phase's timeline. The result is
//! [`RunRecord::traces`](crate::record::RunRecord): for each request, its hops in start order.
//!
//! The simulator does not wait for the end: [`Joiner`] takes the spans that have ended from
//! every instance as the run goes (each simulated second), joins them per request, works out
//! wasted work once every span of a request has ended and the workload has its answer, and
//! hands the trace to the [`Figures`], which fold it into sums and keep it only if it is among
//! the slowest or the first failures of its kind in its phase. Nothing else is held for a
//! request whose trace is done.
//!
//! A span can still turn up for a request after its trace was done: a call held by a paused
//! or partitioned instance arrives late. Its caller's attempt had ended before the trace was
//! done, so before the late span started: every bit of its work was done after its caller
//! stopped waiting, which is what the whole-run join says too. Such spans form a trace of
//! their own, added to the request's if it is kept (among the slowest or the first failures).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use squall_fixture::{Drained, Span};

use crate::invariant::{Figures, HopKey};
use crate::record::{Attempt, Hop, Name, RequestRecord};

/// Hops gathered per workload request.
pub struct Traces {
    traces: Vec<Vec<Hop>>,
}

impl Traces {
    /// Room for `requests` workload requests (ids `0..requests`).
    pub fn new(requests: usize) -> Self {
        Traces {
            traces: vec![Vec::new(); requests],
        }
    }

    /// Adds `instance`'s spans; `at` maps the instance's span times onto the load phase's
    /// timeline. Spans without a workload request id (admin probes, foreign traffic) are
    /// skipped.
    pub fn add(&mut self, instance: &str, spans: Vec<Span>, at: impl Fn(Duration) -> Duration) {
        let instance = Name::from(instance);
        for span in spans {
            let Some(i) = span
                .request_id
                .as_deref()
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| *i < self.traces.len())
            else {
                continue;
            };
            self.traces[i].push(hop_of(&instance, &span, &at));
        }
    }

    /// Each request's hops in start order (stable: equal starts keep the order they were added).
    pub fn finish(mut self) -> Vec<Vec<Hop>> {
        for hops in &mut self.traces {
            hops.sort_by_key(|h| h.start);
        }
        self.traces
    }
}

/// A span as a hop of its request's trace; `at` maps span times onto the load phase.
fn hop_of(instance: &Name, span: &Span, at: &impl Fn(Duration) -> Duration) -> Hop {
    let end = span.end.unwrap_or(span.start);
    Hop {
        instance: instance.clone(),
        path: span.path.clone(),
        parent: span.parent.as_deref().map(str::to_owned),
        start: at(span.start),
        end: at(end),
        work: span.work.map(|(s, e)| (at(s), at(e.unwrap_or(end)))),
        wasted: Duration::ZERO,
        status: span.status,
        note: span.note,
        attempts: span
            .attempts
            .iter()
            .map(|a| Attempt {
                id: a.id,
                service: a.service.clone(),
                to: a
                    .to
                    .rsplit_once(':')
                    .map_or(&*a.to, |(host, _)| host)
                    .to_owned(),
                retry: a.retry,
                hedge: a.hedge,
                start: at(a.start),
                end: at(a.end.unwrap_or(end)),
                outcome: a.outcome,
            })
            .collect(),
    }
}

/// Works out each hop's wasted work in one request's trace (hops in start order): the part
/// of its work done after its caller stopped waiting. The caller of a hop is the attempt its
/// parent names; of the first hop, the workload, which stopped waiting at `workload_gave_up`.
/// With `late` (spans that came after the request's trace was done, see the module docs) a
/// caller not in `hops` had stopped waiting before the hop started; otherwise a hop whose
/// caller is unknown wasted nothing.
pub fn work_out_wasted<T>(
    items: &mut [T],
    hop: fn(&mut T) -> &mut Hop,
    workload_gave_up: Duration,
    late: bool,
) {
    let mut ends: Vec<(&str, u64, Duration)> = Vec::new();
    let mut gave_ups: Vec<Option<Duration>> = Vec::with_capacity(items.len());
    {
        let hops: Vec<&Hop> = items.iter_mut().map(|t| &*hop(t)).collect();
        for h in &hops {
            ends.extend(h.attempts.iter().map(|a| (&*h.instance, a.id, a.end)));
        }
        let unknown = if late { Some(Duration::ZERO) } else { None };
        for h in &hops {
            gave_ups.push(match &h.parent {
                None if late => Some(Duration::ZERO),
                None => Some(workload_gave_up),
                Some(parent) => parent
                    .rsplit_once('#')
                    .and_then(|(instance, id)| {
                        let id = id.parse::<u64>().ok()?;
                        ends.iter()
                            .find(|(i, a, _)| *a == id && *i == instance)
                            .map(|(_, _, end)| *end)
                    })
                    .or(unknown),
            });
        }
    }
    for (t, gave_up) in items.iter_mut().zip(gave_ups) {
        let hop = hop(t);
        hop.wasted = match (hop.work, gave_up) {
            (Some((start, end)), Some(gave_up)) => end.saturating_sub(start.max(gave_up)),
            _ => Duration::ZERO,
        };
    }
}

/// One request's spans gathered so far.
#[derive(Debug)]
struct Group {
    scheduled: Duration,
    /// The workload's answer, once it came.
    request: Option<RequestRecord>,
    hops: Vec<(HopKey, Hop)>,
    /// Spans that came after the request's trace was done.
    late: bool,
}

/// Joins spans into traces as a run goes (see the module docs).
#[derive(Debug)]
pub struct Joiner {
    /// Instance names, in topology order (the `usize` of a [`HopKey`]).
    instances: Vec<Name>,
    /// The simulation clock when the load phase began.
    load_start: Duration,
    /// Requests sent and not yet traced, and late spans, by request index.
    groups: BTreeMap<usize, Group>,
    /// Requests sent so far: the workload's ids are `0..sent`.
    sent: usize,
    /// Requests with a span still in progress, as of the last drain.
    busy: BTreeSet<usize>,
    /// With `keep`, every request's hops, for a record that holds them.
    kept: Option<Vec<Vec<(HopKey, Hop)>>>,
}

impl Joiner {
    /// A joiner for `instances` (topology order); with `keep` it also keeps every hop.
    pub fn new(instances: Vec<String>, keep: bool) -> Self {
        Joiner {
            instances: instances.into_iter().map(Name::from).collect(),
            load_start: Duration::ZERO,
            groups: BTreeMap::new(),
            sent: 0,
            busy: BTreeSet::new(),
            kept: keep.then(Vec::new),
        }
    }

    /// Sets the simulation clock at which the load phase began.
    pub fn set_load_start(&mut self, load_start: Duration) {
        self.load_start = load_start;
    }

    /// Request `index` was sent, scheduled at `at`.
    pub fn sent(&mut self, index: usize, at: Duration) {
        self.groups.insert(
            index,
            Group {
                scheduled: at,
                request: None,
                hops: Vec::new(),
                late: false,
            },
        );
        self.sent = self.sent.max(index + 1);
        if let Some(kept) = &mut self.kept {
            kept.resize_with(self.sent, Vec::new);
        }
    }

    /// Request `index` was answered (or given up on).
    pub fn answered(&mut self, index: usize, request: RequestRecord) {
        if let Some(g) = self.groups.get_mut(&index) {
            g.request = Some(request);
        }
    }

    /// Requests sent and never answered: their index and scheduled time.
    pub fn unanswered(&self) -> Vec<(usize, Duration)> {
        self.groups
            .iter()
            .filter(|(_, g)| !g.late && g.request.is_none())
            .map(|(i, g)| (*i, g.scheduled))
            .collect()
    }

    /// Starts a round of drains: forgets which requests were busy.
    pub fn begin(&mut self) {
        self.busy.clear();
    }

    /// Adds what instance number `instance` handed over, its times on the
    /// simulation clock.
    pub fn add(&mut self, instance: usize, drained: Drained) {
        let load_start = self.load_start;
        self.add_on(instance, drained, &|t: Duration| {
            t.saturating_sub(load_start)
        });
    }

    /// Adds what instance number `instance` handed over; `at` maps its span
    /// times onto the load phase (an instance's own clock, on Docker).
    pub fn add_on(&mut self, instance: usize, drained: Drained, at: &dyn Fn(Duration) -> Duration) {
        for id in &drained.busy {
            if let Ok(i) = id.parse::<usize>() {
                self.busy.insert(i);
            }
        }
        let name = self
            .instances
            .get(instance)
            .cloned()
            .unwrap_or_else(|| Name::from(""));
        for (seq, span) in drained.spans {
            // Spans without a workload request id (admin probes, foreign traffic) are skipped.
            let Some(i) = span
                .request_id
                .as_deref()
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| *i < self.sent)
            else {
                continue;
            };
            let hop = hop_of(&name, &span, &at);
            let group = self.groups.entry(i).or_insert_with(|| Group {
                scheduled: Duration::ZERO,
                request: None,
                hops: Vec::new(),
                late: true,
            });
            group.hops.push(((hop.start, instance, seq), hop));
        }
    }

    /// Hands every trace that is done to `figures`: its request answered and none of its
    /// spans in progress (with `all`, every trace: the run is over).
    pub fn finish_round(&mut self, figures: &mut Figures, all: bool) {
        let done: Vec<usize> = self
            .groups
            .iter()
            .filter(|(i, g)| all || ((g.late || g.request.is_some()) && !self.busy.contains(i)))
            .map(|(i, _)| *i)
            .collect();
        for i in done {
            let Some(mut g) = self.groups.remove(&i) else {
                continue;
            };
            g.hops.sort_by_key(|(key, _)| *key);
            let gave_up = g
                .request
                .as_ref()
                .map_or(Duration::MAX, |r| r.scheduled + r.latency);
            work_out_wasted(&mut g.hops, |(_, h)| h, gave_up, g.late);
            if let Some(kept) = self.kept.as_mut().and_then(|k| k.get_mut(i)) {
                kept.extend(g.hops.iter().cloned());
            }
            figures.trace(i, g.request.as_ref(), g.hops);
        }
    }

    /// Every request's hops in start order, when kept.
    pub fn into_kept(self) -> Option<Vec<Vec<Hop>>> {
        self.kept.map(|kept| {
            kept.into_iter()
                .map(|mut hops| {
                    hops.sort_by_key(|(key, _)| *key);
                    hops.into_iter().map(|(_, h)| h).collect()
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use indexmap::IndexMap;
    use squall_fixture::{AttemptOutcome, AttemptSpan, Span};

    use super::*;
    use crate::invariant::{FailureKind, Phases};
    use crate::record::{Outcome, RunRecord};

    const MS: Duration = Duration::from_millis(1);

    fn span(parent: Option<&str>, start: u32, end: u32, attempts: Vec<AttemptSpan>) -> Span {
        Span {
            request_id: Some(Arc::from("0")),
            parent: parent.map(Arc::from),
            path: Arc::from("/p"),
            start: start * MS,
            end: Some(end * MS),
            work: Some((start * MS, Some(end * MS))),
            status: Some(200),
            note: None,
            attempts,
        }
    }

    fn attempt(id: u64, start: u32, end: u32) -> AttemptSpan {
        AttemptSpan {
            id,
            service: Arc::from("b"),
            to: Arc::from("b-1:80"),
            retry: 0,
            hedge: false,
            start: start * MS,
            end: Some(end * MS),
            outcome: AttemptOutcome::Timeout,
        }
    }

    /// A trace done in one round and a call that reached `b-1` after it was done
    /// (held by a paused instance) give the wasted work of a whole-run join.
    #[test]
    fn a_late_span_is_joined_as_the_whole_run_join_would() {
        let services: IndexMap<String, Vec<String>> = [
            ("a".to_owned(), vec!["a-1".to_owned()]),
            ("b".to_owned(), vec!["b-1".to_owned()]),
        ]
        .into_iter()
        .collect();
        let phases = Phases::new(Duration::from_secs(1), &[], Duration::ZERO, 100 * MS);
        let mut figures = Figures::with_invariants(phases, &[], &services);
        let mut joiner = Joiner::new(vec!["a-1".into(), "b-1".into()], true);
        let request = RequestRecord {
            scheduled: Duration::ZERO,
            latency: 40 * MS,
            // a-1 gave up on b and answered 502: the request is kept as a failure too.
            outcome: Outcome::Error(502),
        };
        figures.sent(Duration::ZERO);
        joiner.sent(0, Duration::ZERO);
        figures.answered(&request);
        joiner.answered(0, request.clone());
        // a-1 works 0..40 ms and gives up on b at 30 ms; it is done by the first round.
        let root = span(None, 0, 40, vec![attempt(3, 5, 30)]);
        joiner.begin();
        joiner.add(
            0,
            Drained {
                spans: vec![(0, root.clone())],
                busy: vec![],
            },
        );
        joiner.finish_round(&mut figures, false);
        assert_eq!(figures.slowest.len(), 1, "the trace was done and kept");
        // b-1 gets the call at 500 ms and works until 520 ms: all of it wasted.
        let late = span(Some("a-1#3"), 500, 520, vec![]);
        joiner.begin();
        joiner.add(
            1,
            Drained {
                spans: vec![(0, late.clone())],
                busy: vec![],
            },
        );
        joiner.finish_round(&mut figures, true);
        figures.finish();
        assert_eq!(figures.work.total, 60 * MS);
        assert_eq!(figures.work.wasted, 20 * MS);
        assert_eq!(figures.work_by_service["b"].wasted, 20 * MS);
        assert_eq!(
            figures.slowest[0].hops.len(),
            2,
            "the late hop joins the kept trace"
        );
        let failure = &figures.failures[&(0, FailureKind::Error(502))];
        assert_eq!(failure.len(), 1);
        assert_eq!(
            failure[0].hops, figures.slowest[0].hops,
            "the late hop joins the kept failure too"
        );

        // The whole-run join of the same spans.
        let mut traces = Traces::new(1);
        traces.add("a-1", vec![root], |t| t);
        traces.add("b-1", vec![late], |t| t);
        let mut record = RunRecord {
            requests: vec![request],
            traces: traces.finish(),
            ..RunRecord::default()
        };
        record.compute_wasted();
        assert_eq!(record.work(None).wasted, figures.work.wasted);
        assert_eq!(joiner.into_kept(), Some(record.traces));
    }
}
