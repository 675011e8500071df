//! A slow request's trace as a waterfall: one row per hop and per attempt,
//! in call order, a bar for when each ran, so where the time went (a timeout
//! waited out, a retry, a hedge, work done after the caller left) is one
//! look.
//!
//! Hand-written SVG rather than plotters: a waterfall is rows of labelled
//! bars of varying kinds with a tooltip each, nested by caller, which
//! plotters' coordinate charts do not lay out (row labels would have to be
//! axis labels, and per-bar tooltips do not exist there). Text sits in the
//! label column and never overlaps a bar. Colours follow the outcome
//! classes of the outcome chart.

use std::fmt::Write;

use super::chart::{self, OUTCOMES};
use super::esc;
use crate::report::json::{AttemptFacts, HopFacts, TraceFacts};
use crate::report::summary::ms;

const WIDTH: f64 = 1100.0;
/// The label column; bars are drawn right of it.
const LABELS: f64 = 470.0;
const RIGHT: f64 = 70.0;
const ROW: f64 = 19.0;
const AXIS: f64 = 26.0;
/// Rows drawn per trace; a retry storm's trace can hold hundreds of attempts.
pub const MAX_ROWS: usize = 120;
/// Nesting followed at most this deep (a parent chain cannot loop, but a
/// malformed one must not recurse without end).
const MAX_DEPTH: usize = 32;
/// Characters of a label before it is cut (the full text is in the tooltip).
const LABEL_CHARS: usize = 66;
/// An attempt its caller gave up on.
pub const CANCELLED: &str = "#8d96a0";

enum Row<'a> {
    Hop(usize, &'a HopFacts),
    Attempt(usize, &'a AttemptFacts),
}

/// The rows in call order: each hop, then each of its attempts followed by
/// the hop that attempt reached. Hops whose caller is not in the trace come
/// last, at the top level.
fn rows(t: &TraceFacts) -> Vec<Row<'_>> {
    fn visit<'a>(
        t: &'a TraceFacts,
        hop: usize,
        depth: usize,
        seen: &mut [bool],
        out: &mut Vec<Row<'a>>,
    ) {
        if seen[hop] || depth > MAX_DEPTH {
            return;
        }
        seen[hop] = true;
        let h = &t.hops[hop];
        out.push(Row::Hop(depth, h));
        for a in &h.attempts {
            out.push(Row::Attempt(depth + 1, a));
            let caller = format!("{}#{}", h.instance, a.id);
            for (i, child) in t.hops.iter().enumerate() {
                if child.parent.as_deref() == Some(caller.as_str()) {
                    visit(t, i, depth + 2, seen, out);
                }
            }
        }
    }
    let mut seen = vec![false; t.hops.len()];
    let mut out = Vec::new();
    for (i, h) in t.hops.iter().enumerate() {
        if h.parent.is_none() {
            visit(t, i, 0, &mut seen, &mut out);
        }
    }
    for i in 0..t.hops.len() {
        visit(t, i, 0, &mut seen, &mut out);
    }
    out
}

/// An attempt's or request's colour by its outcome text (`200`, `timeout`,
/// `degraded`, `error 502`, `failed`, `cancelled`).
fn outcome_class(outcome: &str) -> &'static str {
    let class = match outcome {
        // The caller gave up on it (its own deadline, a hedge won): not an
        // answer of any kind.
        "cancelled" => return "cancelled",
        "ok" | "degraded" | "timeout" | "failed" => outcome,
        o if o.starts_with('2') => "ok",
        _ => "error",
    };
    OUTCOMES
        .iter()
        .find(|(name, _)| *name == class)
        .map_or("error", |(name, _)| name)
}

/// A step for the time axis: 1, 2 or 5 times a power of ten, about eight ticks.
fn tick_step(range: f64) -> f64 {
    let raw = (range / 8.0).max(1e-3);
    let pow = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow)
}

fn cut(s: &str) -> String {
    if s.chars().count() > LABEL_CHARS {
        s.chars().take(LABEL_CHARS - 1).collect::<String>() + "…"
    } else {
        s.to_owned()
    }
}

/// The trace of `t` as an inline `<svg>`; `deadline_ms` is drawn when it
/// falls within the trace's time span (or near it).
pub fn render(t: &TraceFacts, deadline_ms: f64) -> String {
    let all = rows(t);
    let shown = all.len().min(MAX_ROWS);
    let end = all
        .iter()
        .map(|r| match r {
            Row::Hop(_, h) => h.end_ms,
            Row::Attempt(_, a) => a.end_ms,
        })
        .fold(t.latency_ms, f64::max)
        .max(1.0);
    let show_deadline = deadline_ms > 0.0 && deadline_ms <= end * 1.5;
    let span = if show_deadline {
        end.max(deadline_ms)
    } else {
        end
    } * 1.02;
    let plot = WIDTH - LABELS - RIGHT;
    let x = |v: f64| LABELS + (v.max(0.0) / span) * plot;
    let rows_drawn = shown + 1 + usize::from(all.len() > shown);
    // Below the rows, room for the deadline's label.
    let foot = if show_deadline { ROW } else { 8.0 };
    let height = AXIS + rows_drawn as f64 * ROW + foot;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="waterfall" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="trace of request {}">"#,
        t.request
    );
    // The time axis.
    let step = tick_step(span);
    let mut tick = 0.0;
    while tick <= span {
        let tx = x(tick);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{tx:.1}" y1="{AXIS}" x2="{tx:.1}" y2="{:.1}"/><text class="tick" x="{tx:.1}" y="{:.1}" text-anchor="middle">{}ms</text>"#,
            height - 4.0,
            AXIS - 9.0,
            ms(tick)
        );
        tick += step;
    }
    if show_deadline {
        let dx = x(deadline_ms);
        let _ = write!(
            s,
            r#"<line class="deadline" x1="{dx:.1}" y1="{:.1}" x2="{dx:.1}" y2="{:.1}" stroke="{}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">deadline {}ms</text>"#,
            AXIS - 4.0,
            height - foot + 4.0,
            hex(chart::DEADLINE),
            dx - 3.0,
            height - 5.0,
            ms(deadline_ms)
        );
    }
    let mut y = AXIS + 2.0;
    let bar = |s: &mut String, y: f64, from: f64, to: f64, thick: f64, class: &str, tip: &str| {
        let (x0, x1) = (x(from), x(to.max(from)));
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{thick:.1}" rx="2"><title>{}</title></rect>"#,
            y + (ROW - thick) / 2.0,
            (x1 - x0).max(1.5),
            esc(tip)
        );
        let _ = write!(
            s,
            r#"<text class="span" x="{:.1}" y="{:.1}">{}..{}</text>"#,
            x1 + 4.0,
            y + ROW * 0.68,
            ms(from),
            ms(to)
        );
    };
    let label = |s: &mut String, y: f64, depth: usize, text: &str, class: &str| {
        let _ = write!(
            s,
            r#"<text class="{class}" x="{:.1}" y="{:.1}">{}</text>"#,
            6.0 + depth as f64 * 12.0,
            y + ROW * 0.68,
            esc(&cut(text))
        );
    };
    // The request as the workload saw it.
    let head = format!("workload: {}, {}ms", t.outcome, ms(t.latency_ms));
    label(&mut s, y, 0, &head, "lbl strong");
    let class = outcome_class(&t.outcome);
    bar(&mut s, y, 0.0, t.latency_ms, 12.0, class, &head);
    y += ROW;
    for row in all.iter().take(shown) {
        match row {
            Row::Hop(depth, h) => {
                let answer = h
                    .status
                    .map_or_else(|| "no answer".to_owned(), |c| c.to_string());
                let wasted = if h.wasted_ms > 0.0 {
                    format!(", {}ms wasted", ms(h.wasted_ms))
                } else {
                    String::new()
                };
                let note = h.note.map(|n| format!(" ({n})")).unwrap_or_default();
                let text = format!(
                    "{} {}: {answer}, work {}ms{wasted}{note}",
                    h.instance,
                    h.path,
                    ms(h.work_ms)
                );
                label(&mut s, y, *depth, &text, "lbl strong");
                bar(&mut s, y, h.start_ms, h.end_ms, 13.0, "hop", &text);
                if h.wasted_ms > 0.0 {
                    // Wasted work is work done after the caller stopped
                    // waiting: drawn at the end of the hop's span.
                    let from = (h.end_ms - h.wasted_ms).max(h.start_ms);
                    let (x0, x1) = (x(from), x(h.end_ms));
                    let _ = write!(
                        s,
                        r#"<rect class="wasted" x="{x0:.1}" y="{:.1}" width="{:.1}" height="5"><title>{}ms of work after the caller stopped waiting</title></rect>"#,
                        y + ROW - 6.0,
                        (x1 - x0).max(1.5),
                        ms(h.wasted_ms)
                    );
                }
            }
            Row::Attempt(depth, a) => {
                let kind = match (a.hedge, a.retry) {
                    (true, _) => ", hedge".to_owned(),
                    (false, 0) => String::new(),
                    (false, k) => format!(", retry {k}"),
                };
                let to = if a.to.is_empty() {
                    "(no instance)"
                } else {
                    &a.to
                };
                let text = format!("→ {to} ({}{kind}): {}", a.service, a.outcome);
                label(&mut s, y, *depth, &text, "lbl");
                bar(
                    &mut s,
                    y,
                    a.start_ms,
                    a.end_ms,
                    7.0,
                    outcome_class(&a.outcome),
                    &text,
                );
            }
        }
        y += ROW;
    }
    if all.len() > shown {
        label(
            &mut s,
            y,
            0,
            &format!(
                "… {} more rows (report.json has them all)",
                all.len() - shown
            ),
            "lbl muted",
        );
    }
    s.push_str("</svg>");
    s
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The CSS fill of each outcome class and of hops, from the charts' colours.
pub fn css() -> String {
    let mut s = String::new();
    for (name, color) in OUTCOMES {
        let _ = write!(s, ".waterfall .{name}{{fill:{}}}", hex(color));
    }
    let _ = write!(
        s,
        ".waterfall .hop{{fill:{};fill-opacity:.45}}.waterfall .wasted{{fill:{}}}.waterfall .cancelled{{fill:{CANCELLED}}}",
        hex(chart::P50),
        hex(chart::MAX)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(instance: &str, parent: Option<&str>, attempts: Vec<AttemptFacts>) -> HopFacts {
        HopFacts {
            instance: instance.into(),
            path: "/p".into(),
            parent: parent.map(Into::into),
            start_ms: 0.0,
            end_ms: 10.0,
            work_ms: 1.0,
            wasted_ms: 0.0,
            status: Some(200),
            note: None,
            attempts,
        }
    }

    fn attempt(id: u64, to: &str) -> AttemptFacts {
        AttemptFacts {
            id,
            service: "svc".into(),
            to: to.into(),
            retry: 0,
            hedge: false,
            start_ms: 1.0,
            end_ms: 9.0,
            outcome: "200".into(),
        }
    }

    #[test]
    fn rows_follow_the_calls_and_orphans_come_last() {
        let t = TraceFacts {
            request: 1,
            scheduled_ms: 0.0,
            latency_ms: 10.0,
            outcome: "ok".into(),
            attempts: 2,
            retries: 0,
            hedges: 0,
            hops: vec![
                hop("a-1", None, vec![attempt(7, "b-1"), attempt(8, "c-1")]),
                hop("c-1", Some("a-1#8"), vec![]),
                hop("b-1", Some("a-1#7"), vec![]),
                hop("d-1", Some("gone-1#3"), vec![]),
            ],
        };
        let order: Vec<String> = rows(&t)
            .iter()
            .map(|r| match r {
                Row::Hop(d, h) => format!("{d}:{}", h.instance),
                Row::Attempt(d, a) => format!("{d}:->{}", a.to),
            })
            .collect();
        assert_eq!(
            order,
            ["0:a-1", "1:->b-1", "2:b-1", "1:->c-1", "2:c-1", "0:d-1"]
        );
    }

    #[test]
    fn outcomes_map_to_the_chart_classes() {
        assert_eq!(outcome_class("200"), "ok");
        assert_eq!(outcome_class("timeout"), "timeout");
        assert_eq!(outcome_class("503"), "error");
        assert_eq!(outcome_class("error 502"), "error");
        assert_eq!(outcome_class("degraded"), "degraded");
        assert_eq!(outcome_class("cancelled"), "cancelled");
        assert_eq!(tick_step(99.0), 20.0);
        assert_eq!(tick_step(8.0), 1.0);
    }
}
