//! The suite's `index.html`: every scenario on one self-contained page, for
//! the person who opens last night's artifact.
//!
//! One row per scenario: its verdict (a documented weakness, an
//! `expect = "fail"` file that failed as it says, is shown as such and not
//! as a failure; a flaky one in its own colour), each invariant's pass rate
//! when it ran more than once, the key figures of its first run, a link to
//! each run's `report.html`, and with `--history` its last nights as a strip
//! of verdicts and two inline-SVG trend lines (p99, success). Like
//! `report.html`: CSS inline, no script, nothing fetched; the only links are
//! relative ones to the reports beside it.

use std::fmt::Write;

use super::history::Record;
use super::{Entry, RunOutcome, Suite, Verdict};
use crate::invariant::pct;
use crate::report::html::{esc, CSS};
use crate::report::summary::ms;

const SUITE_CSS: &str = r##"
.badge.weakness{background:var(--note)}.badge.flaky{background:#8250df}.badge.unexpected-pass,.badge.error{background:var(--fail)}
td .badge{margin-left:0;font-size:12px;white-space:nowrap}
.rates{margin:0;padding:0;list-style:none;font-size:13px}.rates .flaky{color:#8250df;font-weight:700}
svg.spark{vertical-align:middle;margin-right:8px}svg.spark polyline{fill:none;stroke:var(--fg);stroke-width:1.5}svg.spark circle{fill:var(--fg)}
svg.strip rect.pass{fill:var(--pass)}svg.strip rect.weakness{fill:var(--note)}svg.strip rect.flaky{fill:#8250df}svg.strip rect.fail,svg.strip rect.unexpected-pass,svg.strip rect.error{fill:var(--fail)}
.trend{white-space:nowrap;font-size:12px;color:var(--muted)}
"##;

/// Trend lines are this wide and high, in px.
const SPARK_W: f64 = 110.0;
const SPARK_H: f64 = 26.0;

/// The page of `suite`; `history` holds, per entry (same order), its last
/// records (the current run's included), or is empty without `--history`.
pub fn render(suite: &Suite, history: &[Vec<&Record>]) -> String {
    let mut s = String::new();
    let t = suite.tally();
    let passed = suite.entries.iter().all(|e| e.verdict.passed()) && !suite.interrupted;
    let word = if passed { "PASS" } else { "FAIL" };
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>squall suite ({word})</title>\n<style>{CSS}{SUITE_CSS}</style>\n</head>\n<body>\n<header>\n<h1>squall suite <span class=\"badge {}\">{word}</span></h1>\n",
        if passed { "pass" } else { "fail" }
    );
    let _ = writeln!(
        s,
        "<dl class=\"facts\"><dt>started</dt><dd>{}</dd><dt>backend</dt><dd>{}</dd><dt>runs per scenario</dt><dd>{}</dd><dt>scenarios</dt><dd>{}: {}</dd></dl>",
        esc(&suite.started_at),
        suite.backend.as_str(),
        suite.repeat,
        suite.entries.len(),
        esc(&t.describe())
    );
    if suite.interrupted {
        s.push_str("<p class=\"note\"><strong>Interrupted</strong> (Ctrl-C or SIGTERM): the scenarios after the one running then are missing.</p>\n");
    }
    s.push_str("<p class=\"muted\">PASS: every invariant held in every run. DOCUMENTED WEAKNESS: a file with <code>expect = \"fail\"</code> that failed as it says (counts as passed). FLAKY: the runs disagree. UNEXPECTED PASS: expected to fail, but every invariant held. Figures are those of each scenario's first run (its own seed).</p>\n</header>\n");
    let trends = history.iter().any(|h| !h.is_empty());
    let _ = writeln!(
        s,
        "<section id=\"scenarios\">\n<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>verdict</th><th>invariants</th><th class=\"n\">success</th><th class=\"n\">p99</th><th class=\"n\">p99 faults</th><th class=\"n\">most calls per request</th><th class=\"n\">wasted work</th>{}<th>reports</th></tr>",
        if trends {
            format!("<th>last {} suite runs</th>", super::history::SHOWN)
        } else {
            String::new()
        }
    );
    for (i, e) in suite.entries.iter().enumerate() {
        row(
            &mut s,
            e,
            trends.then(|| history.get(i).map_or(&[][..], Vec::as_slice)),
        );
    }
    s.push_str("</table>\n</section>\n<footer class=\"muted\"><p>Written by squall beside <code>suite.json</code> and <code>junit.xml</code>; each run's directory holds its own report.</p></footer>\n</body>\n</html>\n");
    s
}

fn row(s: &mut String, e: &Entry, history: Option<&[&Record]>) {
    let _ = write!(
        s,
        "<tr class=\"scenario {}\"><td><strong>{}</strong><br><code class=\"muted\">{}</code></td><td><span class=\"badge {}\" title=\"{}\">{}</span></td><td>{}</td>",
        e.verdict.as_str(),
        esc(&e.name),
        esc(&e.file),
        e.verdict.as_str(),
        esc(e.verdict.meaning()),
        e.verdict.badge(),
        invariants(e)
    );
    match e.figures() {
        Some(f) => {
            let faults = f
                .phase_p99_ms
                .get("faults")
                .map_or_else(|| "-".to_owned(), |v| format!("{}ms", ms(*v)));
            let amp = f.amplification.as_ref().map_or_else(
                || "-".to_owned(),
                |(svc, a)| format!("{a:.2} <code>{}</code>", esc(svc)),
            );
            let _ = write!(
                s,
                "<td class=\"n\">{}</td><td class=\"n\">{}ms</td><td class=\"n\">{faults}</td><td class=\"n\">{amp}</td><td class=\"n\">{}</td>",
                pct(f.success),
                ms(f.p99_ms),
                pct(f.wasted)
            );
        }
        None => s.push_str("<td class=\"n\">-</td><td class=\"n\">-</td><td class=\"n\">-</td><td class=\"n\">-</td><td class=\"n\">-</td>"),
    }
    if let Some(records) = history {
        let _ = write!(s, "<td class=\"trend\">{}</td>", trend(records));
    }
    let links: Vec<String> = e
        .runs
        .iter()
        .map(|r| match &r.outcome {
            RunOutcome::Judged { .. } => format!(
                "<a href=\"{}/report.html\">seed {}</a>",
                esc(&r.dir),
                r.seed
            ),
            RunOutcome::Error { message, .. } => format!(
                "<span class=\"failed\" title=\"{}\">seed {}: error</span>",
                esc(message),
                r.seed
            ),
        })
        .collect();
    let _ = writeln!(s, "<td>{}</td></tr>", links.join("<br>"));
}

/// `5 of 5 held`, or each invariant's pass rate when the runs disagree or
/// something failed.
fn invariants(e: &Entry) -> String {
    if e.verdict == Verdict::Error {
        let messages: Vec<String> = e
            .runs
            .iter()
            .filter_map(|r| match &r.outcome {
                RunOutcome::Error { message, .. } => Some(esc(message)),
                RunOutcome::Judged { .. } => None,
            })
            .collect();
        return format!("<span class=\"failed\">{}</span>", messages.join("<br>"));
    }
    let all_held = e.pass_rates.iter().all(|p| p.held == p.runs);
    if all_held {
        return format!("{0} of {0} held", e.pass_rates.len());
    }
    let mut out = String::from("<ul class=\"rates\">");
    let repeated = e.pass_rates.first().is_some_and(|f| f.runs > 1);
    for p in &e.pass_rates {
        let class = if p.flaky() {
            "flaky"
        } else if p.held == p.runs {
            "held"
        } else {
            "failed"
        };
        let word = match (repeated, p.flaky()) {
            (true, true) => format!("FLAKY {}/{}", p.held, p.runs),
            (true, false) => format!("{}/{}", p.held, p.runs),
            (false, _) => class.to_owned(),
        };
        let during = if p.during == "all" {
            String::new()
        } else {
            format!(" <span class=\"muted\">({})</span>", esc(&p.during))
        };
        let _ = write!(
            out,
            "<li><span class=\"{class}\" title=\"{}\">{word}</span> {}{during}</li>",
            p.describe(),
            esc(&p.label)
        );
    }
    out.push_str("</ul>");
    out
}

/// A scenario's last suite runs: a strip of verdicts, then p99 and success
/// as trend lines (from two runs on).
fn trend(records: &[&Record]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let n = records.len();
    let cell = 6.0;
    let _ = write!(
        s,
        "<svg class=\"strip\" width=\"{w}\" height=\"12\" viewBox=\"0 0 {w} 12\" role=\"img\" aria-label=\"verdicts of the last {n} suite runs\">",
        w = n as f64 * cell
    );
    for (i, r) in records.iter().enumerate() {
        let _ = write!(
            s,
            "<rect class=\"{}\" x=\"{}\" y=\"1\" width=\"{}\" height=\"10\"><title>{}: {}</title></rect>",
            r.verdict.as_str(),
            i as f64 * cell,
            cell - 1.0,
            esc(&r.date),
            r.verdict.word()
        );
    }
    s.push_str("</svg><br>");
    let p99: Vec<(f64, &str)> = records
        .iter()
        .filter_map(|r| r.figures.as_ref().map(|f| (f.p99_ms, r.date.as_str())))
        .collect();
    let success: Vec<(f64, &str)> = records
        .iter()
        .filter_map(|r| r.figures.as_ref().map(|f| (f.success, r.date.as_str())))
        .collect();
    if p99.len() >= 2 {
        let _ = write!(
            s,
            "{}p99 {}ms<br>{}success {}",
            sparkline(&p99, "p99", |v| format!("{}ms", ms(v))),
            ms(p99[p99.len() - 1].0),
            sparkline(&success, "success", pct),
            pct(success[success.len() - 1].0)
        );
    } else {
        s.push_str("trend lines from the second run on");
    }
    s
}

/// A small line of `points` (value, date), scaled to their own range.
fn sparkline(points: &[(f64, &str)], name: &str, fmt: impl Fn(f64) -> String) -> String {
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (v, _)| {
            (lo.min(*v), hi.max(*v))
        });
    let pad = 3.0;
    let step = (SPARK_W - 2.0 * pad) / (points.len().max(2) - 1) as f64;
    let y = |v: f64| {
        if hi > lo {
            SPARK_H - pad - (v - lo) / (hi - lo) * (SPARK_H - 2.0 * pad)
        } else {
            SPARK_H / 2.0
        }
    };
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (v, _))| (pad + i as f64 * step, y(*v)))
        .collect();
    let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let (lx, ly) = xy[xy.len() - 1];
    let tips: Vec<String> = points
        .iter()
        .map(|(v, d)| format!("{}: {}", esc(d), fmt(*v)))
        .collect();
    format!(
        "<svg class=\"spark {name}\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\" aria-label=\"{name} over the last {} suite runs, from {} to {}\"><title>{}</title><polyline points=\"{}\"/><circle cx=\"{lx:.1}\" cy=\"{ly:.1}\" r=\"2\"/></svg>",
        points.len(),
        fmt(points[0].0),
        fmt(points[points.len() - 1].0),
        tips.join("\n"),
        line.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_its_box_and_ends_on_a_dot() {
        let svg = sparkline(&[(10.0, "d1"), (20.0, "d2"), (15.0, "d3")], "p99", |v| {
            format!("{v}ms")
        });
        assert!(
            svg.contains("points=\"3.0,23.0 55.0,3.0 107.0,13.0\""),
            "{svg}"
        );
        assert!(svg.contains("<circle cx=\"107.0\" cy=\"13.0\""), "{svg}");
        assert!(svg.contains("from 10ms to 15ms"));
        let flat = sparkline(&[(1.0, "a"), (1.0, "b")], "success", |v| v.to_string());
        assert!(flat.contains("points=\"3.0,13.0 107.0,13.0\""), "{flat}");
    }
}
