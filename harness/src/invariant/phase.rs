//! The phases of a run that invariants are judged over: baseline (end of
//! warm-up to one deadline before the first fault, so that no baseline request
//! can have met a fault while in flight), faults (the union of fault windows),
//! recovery (last heal to the end), or an explicit range. Requests belong to a
//! phase by their scheduled time. Warm-up is always excluded.

use std::time::Duration;

use crate::record::{AppliedFault, RunRecord};
use crate::scenario::Window;

/// Time spans of a run, since the start of the load phase.
#[derive(Debug, Clone)]
pub struct Phases {
    pub warmup: Duration,
    /// The caller's deadline: how long a request can be in flight.
    pub deadline: Duration,
    pub end: Duration,
    /// Fault windows, merged where they overlap, clipped to the run.
    pub faults: Vec<(Duration, Duration)>,
    /// When the last fault healed; `None` without faults, or when one lasts to the end.
    pub last_heal: Option<Duration>,
}

impl Phases {
    pub fn of(record: &RunRecord, warmup: Duration, deadline: Duration) -> Self {
        Phases::new(record.duration, &record.faults, warmup, deadline)
    }

    /// The phases of a load phase of `duration` with `faults`: known before
    /// the run starts, so figures can be gathered per phase as it goes.
    pub fn new(
        duration: Duration,
        applied: &[AppliedFault],
        warmup: Duration,
        deadline: Duration,
    ) -> Self {
        let end = duration;
        let mut spans: Vec<(Duration, Duration)> = applied
            .iter()
            .map(|f| (f.start, f.end.unwrap_or(end)))
            .collect();
        spans.sort();
        let mut faults: Vec<(Duration, Duration)> = Vec::new();
        for (s, e) in spans {
            match faults.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => faults.push((s, e)),
            }
        }
        let last_heal = if applied.iter().any(|f| f.end.is_none()) {
            None
        } else {
            applied.iter().filter_map(|f| f.end).max()
        };
        Phases {
            warmup,
            deadline,
            end,
            faults,
            last_heal,
        }
    }

    /// The spans a window covers, after warm-up.
    pub fn spans(&self, window: &Window) -> Vec<(Duration, Duration)> {
        let raw = match window {
            Window::All => vec![(Duration::ZERO, self.end)],
            Window::Baseline => {
                let end = match self.faults.first() {
                    Some(f) => f.0.saturating_sub(self.deadline),
                    None => self.end,
                };
                vec![(Duration::ZERO, end)]
            }
            Window::Faults => self.faults.clone(),
            Window::Recovery => self
                .last_heal
                .map(|h| vec![(h, self.end)])
                .unwrap_or_default(),
            Window::Range(s, e) => vec![(*s, (*e).min(self.end))],
        };
        raw.into_iter()
            .map(|(s, e)| (s.max(self.warmup), e))
            .filter(|(s, e)| s < e)
            .collect()
    }
}

/// Whether `t` falls in one of `spans` (half-open).
pub fn within(spans: &[(Duration, Duration)], t: Duration) -> bool {
    spans.iter().any(|(s, e)| *s <= t && t < *e)
}

/// How a window is named in output: `all`, `faults`, `20s..40s`.
pub fn window_name(window: &Window) -> String {
    match window {
        Window::All => "all".into(),
        Window::Baseline => "baseline".into(),
        Window::Faults => "faults".into(),
        Window::Recovery => "recovery".into(),
        Window::Range(s, e) => format!(
            "{}..{}",
            crate::report::fmt_duration(*s),
            crate::report::fmt_duration(*e)
        ),
    }
}
