//! The charts of `report.html`, drawn with plotters' SVG backend into strings.
//!
//! Two timelines share one x axis (seconds of load) and one picture of the
//! faults: each fault's window is shaded across the plot and drawn as a
//! labelled bar in a lane above it, so a jump in latency or errors lines up
//! with the fault under it at a glance. Two bar charts follow: calls per
//! service (amplification) and wasted work per service.
//!
//! Text and axes are drawn in black (`#000000`), which the page's CSS
//! recolours for a dark theme, so the charts carry no theme of their own.
//! Legends are the page's (HTML above each chart), where they cannot cover
//! a bar. Every figure comes from the
//! [`Report`]: the same report gives the same SVG bytes.

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::invariant::thousands;
use crate::report::json::FaultFacts;
use crate::report::summary::{ms, ms_as_duration};
use crate::report::Report;

/// Width of every chart, in SVG pixels (the page scales it down to fit).
const WIDTH: u32 = 1100;
/// Height of a timeline's plot and axes, lanes excluded.
const TIMELINE_HEIGHT: u32 = 330;
const BAR_HEIGHT: u32 = 300;
/// Pixels left of the plot for the y labels, and around it.
const Y_LABELS: u32 = 64;
const MARGIN: u32 = 14;
/// Height of one fault lane above a timeline.
const LANE: u32 = 17;
/// At most this many lanes; further faults share them (their labels may
/// then overlap, their shading does not hide anything).
const MAX_LANES: usize = 8;
/// plotters' SVG text of size 13 is 10.5px; about this many pixels a character.
const CHAR_PX: f64 = 6.2;

pub const P50: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
pub const P99: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
pub const MAX: RGBColor = RGBColor(0xe1, 0x57, 0x59);
pub const DEADLINE: RGBColor = RGBColor(0x9c, 0x75, 0x5f);
pub const OK: RGBColor = RGBColor(0x59, 0xa1, 0x4f);
pub const DEGRADED: RGBColor = RGBColor(0xed, 0xc9, 0x48);
pub const ERROR: RGBColor = RGBColor(0xe1, 0x57, 0x59);
pub const FAILED: RGBColor = RGBColor(0xb0, 0x7a, 0xa1);
pub const TIMEOUT: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
/// One hue per fault, in order, repeating.
pub const FAULT_HUES: [RGBColor; 6] = [
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0x8c, 0xd1, 0x7d),
    RGBColor(0xba, 0xb0, 0xac),
];
const WARMUP: RGBColor = RGBColor(0x80, 0x80, 0x80);

/// A drawing error as text (drawing into a `String` fails only on a bug).
pub type ChartResult = Result<String, String>;

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font()).color(&BLACK)
}

/// The fault's label in its lane: `1 kill ledger-1`.
pub fn fault_label(f: &FaultFacts) -> String {
    let mut s = format!("{} {}", f.index + 1, f.detail);
    if s.chars().count() > 48 {
        s = s.chars().take(47).collect::<String>() + "…";
    }
    s
}

/// Where each fault's bar and label go: its lane, per fault in report order.
/// Greedy: the first lane whose last label or bar ends before this one starts.
fn lanes(faults: &[FaultFacts], seconds: f64) -> (Vec<usize>, usize) {
    let px_per_s = f64::from(WIDTH - Y_LABELS - 2 * MARGIN) / seconds.max(1.0);
    let mut ends: Vec<f64> = Vec::new();
    let mut chosen = Vec::with_capacity(faults.len());
    for (i, f) in faults.iter().enumerate() {
        let start = f.start_s * px_per_s;
        let end = f.end_s.unwrap_or(seconds) * px_per_s;
        let extent = end.max(start + 6.0 + fault_label(f).chars().count() as f64 * CHAR_PX);
        let lane = match ends.iter().position(|e| *e + 8.0 < start) {
            Some(l) => l,
            None if ends.len() < MAX_LANES => {
                ends.push(f64::NEG_INFINITY);
                ends.len() - 1
            }
            None => i % MAX_LANES,
        };
        ends[lane] = extent;
        chosen.push(lane);
    }
    (chosen, ends.len())
}

/// Seconds of load the timelines span.
fn seconds(r: &Report) -> f64 {
    (r.per_second.len() as f64)
        .max(r.workload.duration_s)
        .max(1.0)
}

/// The contiguous runs of `points` (a `None` breaks the line: a second
/// without a request has no latency).
fn runs(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let (mut out, mut run) = (Vec::new(), Vec::new());
    for p in points {
        match p {
            Some(p) => run.push(p),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A timeline's plot below `top` pixels of fault lanes: x from 0 to `secs`
/// seconds of load, y from 0 to `y_top` described by `y_desc` and labelled by
/// `y_label`, with the mesh and axes both timelines share.
fn timeline_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    top: u32,
    secs: f64,
    y_top: f64,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<Chart<'a, 'b>, String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_top(top)
        .x_label_area_size(36)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(0.0..secs, 0.0..y_top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .axis_style(BLACK.mix(0.6))
        .x_desc("seconds of load")
        .y_desc(y_desc)
        .label_style(font(14))
        .axis_desc_style(font(14))
        .x_label_formatter(&|v| format!("{v}s"))
        .y_label_formatter(y_label)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Shades warm-up and every fault window across the plot, and draws the
/// fault bars with their labels in the lanes above it.
fn draw_faults(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut Chart<'_, '_>,
    r: &Report,
    lanes: &[usize],
    y_top: f64,
) -> Result<(), String> {
    let secs = seconds(r);
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    if r.workload.warmup_s > 0.0 {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (r.workload.warmup_s.min(secs), y_top)],
                WARMUP.mix(0.12).filled(),
            )))
            .map_err(err)?;
        let (x, y) = chart.backend_coord(&(0.0, y_top));
        root.draw(&Text::new(
            "warm-up",
            (x + 4, y + 4),
            font(12).pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(err)?;
    }
    for (f, lane) in r.faults.iter().zip(lanes) {
        let hue = FAULT_HUES[f.index % FAULT_HUES.len()];
        let (start, end) = (f.start_s.min(secs), f.end_s.unwrap_or(secs).min(secs));
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(start, 0.0), (end, y_top)],
                hue.mix(0.2).filled(),
            )))
            .map_err(err)?;
        let (x0, top) = chart.backend_coord(&(start, y_top));
        let (x1, _) = chart.backend_coord(&(end, y_top));
        let lane_y = top - 6 - (*lane as i32 + 1) * LANE as i32;
        root.draw(&Rectangle::new(
            [(x0, lane_y + 2), (x1.max(x0 + 2), lane_y + LANE as i32 - 2)],
            hue.mix(0.55).filled(),
        ))
        .map_err(err)?;
        let label = fault_label(f);
        let width = (label.chars().count() as f64 * CHAR_PX) as i32;
        let plot_right = chart.backend_coord(&(secs, y_top)).0;
        // A label that would run off the plot ends at its window's end instead.
        let (x, anchor) = if x0 + 4 + width > plot_right {
            (x1 - 4, HPos::Right)
        } else {
            (x0 + 4, HPos::Left)
        };
        root.draw(&Text::new(
            label,
            (x, lane_y + LANE as i32 / 2),
            font(13).pos(Pos::new(anchor, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// The latency timeline: p50, p99 and max per second, the deadline as a
/// dashed line, the fault windows shaded and labelled.
pub fn latency(r: &Report) -> ChartResult {
    let secs = seconds(r);
    let (lane_of, lane_count) = lanes(&r.faults, secs);
    let top = lane_count as u32 * LANE + 10;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, TIMELINE_HEIGHT + top)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        let peak = r
            .per_second
            .iter()
            .map(|s| s.summary.max_ms)
            .fold(r.workload.deadline_ms, f64::max);
        let y_top = (peak * 1.08).max(1.0);
        let mut chart = timeline_axes(&root, top, secs, y_top, "latency (ms)", &|v| ms(*v))?;
        draw_faults(&root, &mut chart, r, &lane_of, y_top)?;
        for (_, color, figure) in LATENCIES {
            let style = color.stroke_width(2);
            for run in
                runs(r.per_second.iter().map(|s| {
                    (s.summary.requests > 0).then(|| (s.t as f64 + 0.5, figure(&s.summary)))
                }))
            {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(err)?;
            }
        }
        let dash = DEADLINE.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [
                    (0.0, r.workload.deadline_ms),
                    (secs, r.workload.deadline_ms),
                ],
                8,
                5,
                dash,
            ))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A latency line: its name, colour and figure of a second.
pub type Latency = (&'static str, RGBColor, fn(&crate::stats::Summary) -> f64);

/// The latency lines in drawing order (the last on top).
pub const LATENCIES: [Latency; 3] = [
    ("max", MAX, |s| s.max_ms),
    ("p99", P99, |s| s.p99_ms),
    ("p50", P50, |s| s.p50_ms),
];

/// The outcome classes in stacking order, bottom up, with their colours.
pub const OUTCOMES: [(&str, RGBColor); 5] = [
    ("ok", OK),
    ("degraded", DEGRADED),
    ("error", ERROR),
    ("failed", FAILED),
    ("timeout", TIMEOUT),
];

/// The outcomes timeline: each second's requests stacked by outcome.
pub fn outcomes(r: &Report) -> ChartResult {
    let secs = seconds(r);
    let (lane_of, lane_count) = lanes(&r.faults, secs);
    let top = lane_count as u32 * LANE + 10;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH, TIMELINE_HEIGHT + top)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        let peak = r
            .per_second
            .iter()
            .map(|s| s.summary.requests)
            .max()
            .unwrap_or(0);
        let y_top = (peak as f64 * 1.25).max(1.0);
        let mut chart = timeline_axes(&root, top, secs, y_top, "requests per second", &|v| {
            thousands(v.max(0.0).round() as u64)
        })?;
        draw_faults(&root, &mut chart, r, &lane_of, y_top)?;
        for (k, (_, color)) in OUTCOMES.into_iter().enumerate() {
            let bars = r.per_second.iter().filter_map(|s| {
                let m = &s.summary;
                let stack = [m.ok, m.degraded, m.errors, m.failed, m.timeouts];
                let below: u64 = stack[..k].iter().sum();
                (stack[k] > 0).then(|| {
                    let t = s.t as f64;
                    Rectangle::new(
                        [
                            (t + 0.08, below as f64),
                            (t + 0.92, (below + stack[k]) as f64),
                        ],
                        color.filled(),
                    )
                })
            });
            chart.draw_series(bars).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A bar per service: `values` (service, bar height, label over the bar),
/// the y axis labelled by `y_label`.
fn bars(
    values: &[(String, f64, String)],
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
    color: RGBColor,
) -> ChartResult {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, BAR_HEIGHT)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| e.to_string();
        let peak = values.iter().map(|v| v.1).fold(0.0, f64::max);
        let y_top = if peak > 0.0 { peak * 1.2 } else { 1.0 };
        let n = values.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(36)
            .y_label_area_size(Y_LABELS)
            // A usize range is inclusive in plotters: `0..n - 1` is n segments.
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..y_top)
            .map_err(err)?;
        let name_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => values.get(*i).map(|v| v.0.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.12))
            .axis_style(BLACK.mix(0.6))
            .y_desc(y_desc)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .x_labels(n)
            .x_label_formatter(&name_of)
            .y_label_formatter(y_label)
            .draw()
            .map_err(err)?;
        // Rectangles, not plotters' `Histogram`: that one sums its data in a
        // HashMap and draws the bars in the map's (random) order, so the same
        // report gave different bytes from one process to the next.
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), v.1),
                    ],
                    color.filled(),
                );
                bar.set_margin(0, 0, 18, 18);
                bar
            }))
            .map_err(err)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                Text::new(
                    v.2.clone(),
                    (SegmentValue::CenterOf(i), v.1),
                    font(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Calls per offered request for every service, with the calls over each bar.
pub fn calls(r: &Report) -> ChartResult {
    let values: Vec<_> = r
        .services
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                s.amplification,
                format!("{:.2}× ({} calls)", s.amplification, thousands(s.calls)),
            )
        })
        .collect();
    bars(
        &values,
        "calls per offered request",
        &|v| format!("{v:.1}"),
        P50,
    )
}

/// The share of each service's endpoint work done after its caller stopped
/// waiting.
pub fn wasted(r: &Report) -> ChartResult {
    let values: Vec<_> = r
        .work
        .services
        .iter()
        .map(|(name, w)| {
            (
                name.clone(),
                w.wasted_ratio * 100.0,
                format!(
                    "{} ({} of {})",
                    crate::invariant::pct(w.wasted_ratio),
                    ms_as_duration(w.wasted_ms),
                    ms_as_duration(w.total_ms)
                ),
            )
        })
        .collect();
    bars(&values, "work wasted", &|v| format!("{}%", short(*v)), MAX)
}

/// A tick value with at most three decimals and no trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(index: usize, start_s: f64, end_s: Option<f64>) -> FaultFacts {
        FaultFacts {
            index,
            kind: "kill",
            detail: format!("kill svc-{index}"),
            targets: vec![],
            start_s,
            end_s,
        }
    }

    #[test]
    fn overlapping_faults_get_their_own_lanes_and_later_ones_reuse_them() {
        let faults = [
            fault(0, 10.0, Some(30.0)),
            fault(1, 15.0, Some(25.0)),
            fault(2, 40.0, Some(45.0)),
        ];
        assert_eq!(lanes(&faults, 60.0), (vec![0, 1, 0], 2));
    }

    #[test]
    fn a_second_without_requests_breaks_the_line() {
        let pts = [
            Some((0.5, 1.0)),
            None,
            None,
            Some((3.5, 2.0)),
            Some((4.5, 3.0)),
        ];
        assert_eq!(
            runs(pts.into_iter()),
            vec![vec![(0.5, 1.0)], vec![(3.5, 2.0), (4.5, 3.0)]]
        );
    }
}
