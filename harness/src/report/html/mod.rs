//! `report.html`: the run on one self-contained page, for the person who
//! reads a nightly run the next morning.
//!
//! What they look for first is a timeline, so the page leads with the
//! verdicts and then latency and outcomes per second with every fault's
//! window shaded and labelled ([`chart`]); then the fault timeline, calls
//! and wasted work per service, the slowest requests as waterfalls
//! ([`waterfall`]), and as waterfalls too the first failures of each kind in
//! each phase, which show how a fault first broke a request.
//!
//! One file with nothing to fetch: CSS inline, charts as inline SVG, no
//! script, no font, no image, so it opens the same from a CI artifact, a
//! pull request or a laptop offline. It is rendered from the [`Report`]
//! alone, like `summary.md`, so in the simulator the same scenario and seed
//! write the same bytes. Every string a scenario file supplies (names,
//! descriptions, paths) is escaped with [`esc`].

pub mod chart;
pub mod waterfall;

use std::fmt::Write;

use crate::invariant::{pct, thousands, Unit};
use crate::report::json::{TraceFacts, FIRST_FAILURES};
use crate::report::summary::{ms, ms_as_duration, secs};
use crate::report::Report;
use crate::stats::Summary;

/// `s` with the five characters HTML gives meaning to escaped, for text and
/// for attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet of squall's pages (`report.html`, a suite's `index.html`).
pub(crate) const CSS: &str = r##"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--card:#f6f8fa;--pass:#1a7f37;--fail:#cf222e;--note:#9a6700}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--card:#161b22;--pass:#3fb950;--fail:#f85149;--note:#d29922}}
@media print{:root{--bg:#fff;--fg:#000;--muted:#555;--line:#bbb;--card:#fff;--pass:#1a7f37;--fail:#cf222e}section,figure,.trace{break-inside:avoid}details{display:block}details>*{display:block}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1180px;padding:24px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:24px;margin:0 0 6px}h2{font-size:18px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}.muted{color:var(--muted)}code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;color:#fff;vertical-align:middle;font-size:14px;margin-left:8px}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}
.held{color:var(--pass);font-weight:700}.failed{color:var(--fail);font-weight:700}.note{color:var(--note)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--card);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:8px 0 14px}figure svg{display:block;max-width:100%;height:auto}figcaption{color:var(--muted);font-size:13px}
.chart text[fill="#000000"]{fill:var(--fg)}.chart [stroke="#000000"]{stroke:var(--fg)}
.legend{font-size:13px;margin:2px 0 0 70px}.legend span{margin-right:14px;white-space:nowrap}.line{display:inline-block;width:18px;height:0;border-top:2px solid;vertical-align:middle;margin-right:5px}.line.dashed{border-top-style:dashed}
.waterfall text{fill:var(--fg);font:12px system-ui,sans-serif}.waterfall .strong{font-weight:600}.waterfall .tick,.waterfall .span,.waterfall .muted{fill:var(--muted);font-size:11px}
.waterfall .grid{stroke:var(--line)}.waterfall .deadline{stroke-width:2;stroke-dasharray:6 4}
.trace{border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:10px 0;background:var(--card)}
.nowrap{white-space:nowrap}.trace h3{margin:2px 0 4px}.trace h3 .muted{font-weight:400}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:baseline}
"##;

/// The page of `r`.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let title = format!("squall: {} ({})", r.scenario, verdict_word(r));
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}{}</style>\n</head>\n<body>\n",
        esc(&title),
        waterfall::css()
    );
    header(&mut s, r);
    invariants(&mut s, r);
    timelines(&mut s, r);
    faults(&mut s, r);
    phases(&mut s, r);
    services(&mut s, r);
    slowest(&mut s, r);
    first_failures(&mut s, r);
    per_second(&mut s, r);
    let _ = write!(
        s,
        "<footer class=\"muted\"><p>Written by squall from the figures of <code>report.json</code> beside this file.</p></footer>\n</body>\n</html>\n"
    );
    s
}

fn verdict_word(r: &Report) -> &'static str {
    if r.held() {
        "PASS"
    } else {
        "FAIL"
    }
}

fn header(s: &mut String, r: &Report) {
    let class = if r.held() { "pass" } else { "fail" };
    let _ = writeln!(
        s,
        "<header>\n<h1>{} <span class=\"badge {class}\">{}</span></h1>",
        esc(&r.scenario),
        verdict_word(r)
    );
    if !r.description.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", esc(&r.description));
    }
    let held = r.invariants.iter().filter(|v| v.held).count();
    let failed = r.invariants.len() - held;
    let w = &r.workload;
    let _ = writeln!(
        s,
        "<dl class=\"facts\"><dt>file</dt><dd><code>{}</code></dd><dt>backend</dt><dd>{}</dd><dt>seed</dt><dd><code>{}</code></dd><dt>workload</dt><dd>{} requests at {}/s ({}) for {} to <code>{}</code> <code>{}</code>, deadline {}, warm-up {}</dd><dt>invariants</dt><dd><span class=\"held\">{held} held</span>, <span class=\"{}\">{failed} failed</span></dd></dl>",
        esc(&r.file),
        esc(r.backend),
        r.seed,
        thousands(w.offered),
        w.rate,
        esc(w.arrival),
        secs(w.duration_s),
        esc(&w.target),
        esc(&w.path),
        ms_as_duration(w.deadline_ms),
        secs(w.warmup_s),
        if failed > 0 { "failed" } else { "muted" }
    );
    if let Some(behind) = r.workload.behind_sentence() {
        let _ = writeln!(s, "<p class=\"note\"><strong>{}</strong></p>", esc(&behind));
    }
    if r.expect == "fail" {
        let _ = writeln!(
            s,
            "<p class=\"note\">This scenario expects to fail (<code>expect = \"fail\"</code>): it documents a weakness.</p>"
        );
    }
    if r.interrupted {
        let _ = writeln!(
            s,
            "<p class=\"note\"><strong>Interrupted</strong> (Ctrl-C or SIGTERM) after {} of load: the figures cover only what was measured until then.</p>",
            secs(w.duration_s)
        );
    }
    s.push_str("</header>\n");
}

fn invariants(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<section id=\"invariants\">\n<h2>Invariants</h2>\n<table><tr><th></th><th>invariant</th><th>during</th><th class=\"n\">observed</th><th class=\"n\">limit</th><th>worst second</th><th>evidence</th></tr>"
    );
    for v in &r.invariants {
        let observed = v
            .observed
            .map_or_else(|| "-".to_owned(), |o| figure(o, v.unit));
        let _ = writeln!(
            s,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{observed}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            if v.held { "held" } else { "failed" },
            if v.held { "HELD" } else { "FAILED" },
            esc(&v.label),
            esc(&v.during),
            figure(v.limit, v.unit),
            esc(v.worst_window.as_deref().unwrap_or("")),
            esc(&v.message)
        );
    }
    s.push_str("</table>\n</section>\n");
}

/// A verdict's figure in its unit: `0.021%`, `79ms`, `1.00 calls per request`.
fn figure(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ratio => pct(v),
        Unit::Ms => format!("{}ms", ms(v)),
        Unit::S => format!("{}s", ms(v)),
        Unit::CallsPerRequest => format!("{v:.2} {}", esc(unit.as_str())),
    }
}

/// `#4e79a7`.
fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A legend line above a chart: `(name, colour, dashed line / line / box)`.
fn legend(s: &mut String, entries: &[(String, plotters::style::RGBColor, &str)]) {
    s.push_str("<div class=\"legend\">");
    for (name, c, kind) in entries {
        let mark = match *kind {
            "box" => format!("<i class=\"swatch\" style=\"background:{}\"></i>", hex(*c)),
            line => format!(
                "<i class=\"line {line}\" style=\"border-color:{}\"></i>",
                hex(*c)
            ),
        };
        let _ = write!(s, "<span>{mark}{}</span>", esc(name));
    }
    s.push_str("</div>\n");
}

/// An SVG chart inline, or why it is missing.
fn chart(s: &mut String, svg: chart::ChartResult, caption: &str) {
    match svg {
        Ok(svg) => {
            // Inline SVG in HTML needs no namespace; leaving it out keeps the
            // page free of any URL at all.
            let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
            let _ = writeln!(
                s,
                "<figure class=\"chart\">\n{}\n<figcaption>{caption}</figcaption></figure>",
                svg.trim_end()
            );
        }
        Err(e) => {
            let _ = writeln!(
                s,
                "<p class=\"failed\">chart not drawn: {} ({caption})</p>",
                esc(&e)
            );
        }
    }
}

fn timelines(s: &mut String, r: &Report) {
    s.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    let faults = if r.faults.is_empty() {
        "no fault in this run".to_owned()
    } else {
        "each fault's window shaded, its number and name in the lanes above".to_owned()
    };
    s.push_str("<h3>Latency per second</h3>\n");
    let mut entries: Vec<_> = chart::LATENCIES
        .iter()
        .rev()
        .map(|(name, c, _)| (name.to_string(), *c, "solid"))
        .collect();
    entries.push((
        format!("deadline {}", ms_as_duration(r.workload.deadline_ms)),
        chart::DEADLINE,
        "dashed",
    ));
    legend(s, &entries);
    chart(
        s,
        chart::latency(r),
        &format!(
            "p50, p99 and max of the requests sent in each second (ms), the workload's deadline dashed; {faults}; the first {} are warm-up.",
            secs(r.workload.warmup_s)
        ),
    );
    s.push_str("<h3>Outcomes per second</h3>\n");
    let entries: Vec<_> = chart::OUTCOMES
        .iter()
        .map(|(name, c)| (name.to_string(), *c, "box"))
        .collect();
    legend(s, &entries);
    chart(
        s,
        chart::outcomes(r),
        &format!("the requests sent in each second by outcome, stacked: ok, degraded, error (an HTTP error answer), failed (no answer: refused or reset), timeout (none before the deadline); {faults}."),
    );
    s.push_str("</section>\n");
}

fn faults(s: &mut String, r: &Report) {
    s.push_str("<section id=\"faults\">\n<h2>Fault timeline</h2>\n");
    if r.faults.is_empty() {
        s.push_str("<p class=\"muted\">No fault was applied in this run.</p>\n</section>\n");
        return;
    }
    s.push_str("<table><tr><th>#</th><th>fault</th><th>kind</th><th class=\"n\">from</th><th class=\"n\">to</th><th>touches</th></tr>\n");
    for f in &r.faults {
        let hue = chart::FAULT_HUES[f.index % chart::FAULT_HUES.len()];
        let end = f.end_s.map_or_else(|| "end".to_owned(), secs);
        let mut touches = f
            .targets
            .iter()
            .take(8)
            .map(|t| format!("<code>{}</code>", esc(t)))
            .collect::<Vec<_>>()
            .join(", ");
        if f.targets.len() > 8 {
            let _ = write!(touches, " and {} more", f.targets.len() - 8);
        }
        let _ = writeln!(
            s,
            "<tr><td class=\"nowrap\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{end}</td><td>{touches}</td></tr>",
            hex(hue),
            f.index + 1,
            esc(&f.detail),
            esc(f.kind),
            secs(f.start_s)
        );
    }
    s.push_str("</table>\n</section>\n");
}

fn summary_cells(m: &Summary) -> String {
    [m.requests, m.ok, m.degraded, m.errors, m.failed, m.timeouts]
        .into_iter()
        .map(|n| format!("<td class=\"n\">{}</td>", thousands(n)))
        .chain(
            [m.p50_ms, m.p99_ms, m.max_ms]
                .into_iter()
                .map(|v| format!("<td class=\"n\">{}</td>", ms(v))),
        )
        .collect()
}

const SUMMARY_HEADS: &str = "<th class=\"n\">requests</th><th class=\"n\">ok</th><th class=\"n\">degraded</th><th class=\"n\">errors</th><th class=\"n\">failed</th><th class=\"n\">timeouts</th><th class=\"n\">p50 ms</th><th class=\"n\">p99 ms</th><th class=\"n\">max ms</th>";

fn phases(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<section id=\"phases\">\n<h2>Phases</h2>\n<table><tr><th>phase</th><th>spans</th>{SUMMARY_HEADS}</tr>\n<tr><td>all (after warm-up)</td><td>warm-up to end</td>{}</tr>",
        summary_cells(&r.totals)
    );
    for (name, p) in &r.phases {
        let spans = if p.spans.is_empty() {
            "did not occur".to_owned()
        } else {
            p.spans.join(", ")
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td>{}</tr>",
            esc(name),
            esc(&spans),
            summary_cells(&p.summary)
        );
    }
    s.push_str("</table>\n</section>\n");
}

fn services(s: &mut String, r: &Report) {
    s.push_str("<section id=\"services\">\n<h2>Calls per service</h2>\n");
    chart(
        s,
        chart::calls(r),
        &format!(
            "calls that reached each service (all instances, whole run) per request offered ({} offered); above 1, retries, hedges or fan-out multiply the load.",
            thousands(r.workload.offered)
        ),
    );
    s.push_str("<table><tr><th>service</th><th class=\"n\">calls</th><th class=\"n\">per offered request</th><th>per instance</th></tr>\n");
    for (name, svc) in &r.services {
        let per_instance = svc
            .instances
            .iter()
            .map(|(i, n)| format!("<code>{}</code> {}", esc(i), thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td>{per_instance}</td></tr>",
            esc(name),
            thousands(svc.calls),
            svc.amplification
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<h2 id=\"work\">Wasted work</h2>\n<p>{} of endpoint work, {} of it wasted (done after the caller stopped waiting): {}.</p>",
        ms_as_duration(r.work.total_ms),
        ms_as_duration(r.work.wasted_ms),
        pct(r.work.wasted_ratio)
    );
    // With nothing wasted the chart would be empty axes: the sentence says it.
    if r.work.wasted_ms > 0.0 {
        chart(
            s,
            chart::wasted(r),
            "the share of each service's endpoint work done for a caller that had already given up (timed out or cancelled).",
        );
    }
    if !r.degraded_by.is_empty() {
        s.push_str("<h3>Degraded answers by missing dependency</h3>\n<table><tr><th>dependency left out</th><th class=\"n\">degraded answers</th></tr>\n");
        for (name, n) in &r.degraded_by {
            let _ = writeln!(
                s,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                esc(name),
                thousands(*n)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</section>\n");
}

fn slowest(s: &mut String, r: &Report) {
    s.push_str("<section id=\"slowest\">\n<h2>Slowest requests</h2>\n");
    if r.slowest.is_empty() {
        s.push_str("<p class=\"muted\">No request after warm-up.</p>\n</section>\n");
        return;
    }
    let legend: String = chart::OUTCOMES
        .iter()
        .map(|(name, c)| {
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{name} ",
                hex(*c)
            )
        })
        .collect();
    let _ = writeln!(
        s,
        "<p class=\"muted\">Times in ms from the request's scheduled send. A thick bar is a hop (an instance serving the request, its wasted work in red at its end), a thin one an attempt it made downstream, coloured by outcome: {legend}<span class=\"swatch\" style=\"background:{}\"></span>cancelled (its caller gave up on it). Hover a bar for its full label.</p>"
        , waterfall::CANCELLED
    );
    for t in &r.slowest {
        trace(s, t, r.workload.deadline_ms);
    }
    s.push_str("</section>\n");
}

/// One request's heading and waterfall.
fn trace(s: &mut String, t: &TraceFacts, deadline_ms: f64) {
    let _ = writeln!(
        s,
        "<div class=\"trace\"><h3>request {} at {}: {}ms, {} <span class=\"muted\">({}, {}, {})</span></h3>\n{}\n</div>",
        t.request,
        ms_as_duration(t.scheduled_ms),
        ms(t.latency_ms),
        esc(&t.outcome),
        plural(t.attempts, "attempt", "attempts"),
        plural(t.retries, "retry", "retries"),
        plural(t.hedges, "hedge", "hedges"),
        waterfall::render(t, deadline_ms)
    );
}

/// Per phase and failing outcome, the first requests that ended so, drawn
/// as the slowest are.
fn first_failures(s: &mut String, r: &Report) {
    s.push_str("<section id=\"first-failures\">\n<h2>First failures</h2>\n");
    if r.first_failures.is_empty() {
        s.push_str(
            "<p class=\"muted\">No request after warm-up failed or was degraded.</p>\n</section>\n",
        );
        return;
    }
    let _ = writeln!(
        s,
        "<p class=\"muted\">Per phase and outcome, the first {FIRST_FAILURES} requests (at most) that ended so, in the order they were sent, drawn as the slowest are.</p>"
    );
    for (phase, kinds) in &r.first_failures {
        for (kind, traces) in &kinds.0 {
            let _ = writeln!(s, "<h3>{}: {}</h3>", esc(phase), esc(kind));
            for t in traces {
                trace(s, t, r.workload.deadline_ms);
            }
        }
    }
    s.push_str("</section>\n");
}

/// `1 retry`, `2 retries`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn per_second(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<section id=\"per-second\">\n<h2>Per second</h2>\n<details><summary>the figures behind the timelines, one row per second</summary>\n<table><tr><th class=\"n\">t</th>{SUMMARY_HEADS}</tr>"
    );
    for sec in &r.per_second {
        let warm = if (sec.t as f64) < r.workload.warmup_s {
            " <span class=\"muted\">(warm-up)</span>"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}s{warm}</td>{}</tr>",
            sec.t,
            summary_cells(&sec.summary)
        );
    }
    s.push_str("</table>\n</details>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_html_gives_meaning_to_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x & 'y'")</script>"#),
            "&lt;script&gt;alert(&quot;x &amp; &#39;y&#39;&quot;)&lt;/script&gt;"
        );
        assert_eq!(esc("ledger-1"), "ledger-1");
    }

    #[test]
    fn verdict_figures_read_in_their_unit() {
        assert_eq!(figure(0.00021, Unit::Ratio), "0.021%");
        assert_eq!(figure(79.0, Unit::Ms), "79ms");
        assert_eq!(figure(1.5, Unit::CallsPerRequest), "1.50 calls per request");
    }
}
