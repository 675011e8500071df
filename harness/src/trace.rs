//! Traces: every instance's spans joined into one call tree per workload request.
//!
//! Each fixture instance keeps a [`Span`] per request it served, keyed by the workload's
//! `x-request-id` and linked to its caller's attempt ([`squall_fixture::trace`]). Both backends
//! collect them at the end of a run (the simulator from each instance's `Control`, Docker over
//! `GET /squall/spans`) and hand them here with a function that puts the instance's clock on the
//! load phase's timeline. The result is [`RunRecord::traces`](crate::record::RunRecord): for
//! each request, its hops in start order.

use std::time::Duration;

use squall_fixture::{AttemptOutcome, Span};

use crate::record::{Attempt, Hop};

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
        for span in spans {
            let Some(i) = span
                .request_id
                .as_deref()
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| *i < self.traces.len())
            else {
                continue;
            };
            let end = span.end.unwrap_or(span.start);
            self.traces[i].push(Hop {
                instance: instance.to_owned(),
                path: span.path.to_string(),
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
                        service: a.service.to_string(),
                        to: a
                            .to
                            .rsplit_once(':')
                            .map_or(&*a.to, |(host, _)| host)
                            .to_owned(),
                        retry: a.retry,
                        hedge: a.hedge,
                        start: at(a.start),
                        end: at(a.end.unwrap_or(end)),
                        outcome: outcome_name(a.outcome),
                    })
                    .collect(),
            });
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

fn outcome_name(outcome: AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Status(status) => status.to_string(),
        AttemptOutcome::Pending => "pending".into(),
        AttemptOutcome::Timeout => "timeout".into(),
        AttemptOutcome::Error => "error".into(),
        AttemptOutcome::Cancelled => "cancelled".into(),
        AttemptOutcome::BreakerOpen => "breaker-open".into(),
        AttemptOutcome::NoBudget => "no-budget".into(),
        AttemptOutcome::NoTime => "no-time".into(),
    }
}
