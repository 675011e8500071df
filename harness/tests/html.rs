//! `report.html`: what the page must show, checked on a real simulated run of
//! `scenarios/card-auth.toml` (two faults, five invariants).
//!
//! It is self-contained (nothing fetched: no script, stylesheet, image or
//! URL), shades and labels every fault in both timelines, shows every
//! verdict with its evidence, holds the four charts and one waterfall per
//! slow request and per first failure (the same whether the figures were
//! streamed or worked out from the whole record), and escapes what the
//! scenario file supplies. That the same
//! seed writes the same bytes is checked where runs are repeated:
//! `tests/determinism.rs` (in process) and `tests/cli.rs` (`squall run`).
//!
//! One test: it runs one simulation and checks everything on its report.

use std::path::Path;

use squall::engine::RunOptions;
use squall::invariant::evaluate;
use squall::report::html::{self, chart};
use squall::report::Report;
use squall::scenario;

/// The `<figure class="chart">` blocks of a page, in order.
fn charts(page: &str) -> Vec<&str> {
    page.split("<figure class=\"chart\">")
        .skip(1)
        .map(|rest| rest.split("</figure>").next().unwrap_or(""))
        .collect()
}

/// A colour as plotters writes it in SVG: `#76B7B2`.
fn hex(r: u8, g: u8, b: u8) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

#[test]
fn the_page_is_self_contained_and_shows_faults_verdicts_charts_and_traces() {
    let scenario = scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join("card-auth.toml"),
    )
    .unwrap();
    let opts = RunOptions {
        seed: Some(1),
        // Both faults (10s..30s, 15s..25s), their heals and a recovery window.
        duration: Some(std::time::Duration::from_secs(35)),
        ..RunOptions::default()
    };
    let record = squall::sim::run(&scenario, &opts).unwrap();
    let report = Report::build(&scenario, &record, evaluate(&scenario, &record));
    let page = html::render(&report);

    // Self-contained: nothing for a browser to fetch.
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{}", &page[..80]);
    for banned in [
        "http://", "https://", "<script", "<link", "<img", " src=", "href=", "@import", "url(",
    ] {
        assert!(!page.contains(banned), "report.html contains `{banned}`");
    }
    assert_eq!(page.matches("<style>").count(), 1);

    // The header: scenario, seed, backend and the verdict.
    assert!(page.contains("<h1>card-auth <span class=\"badge pass\">PASS</span></h1>"));
    assert!(page.contains("<dt>seed</dt><dd><code>1</code></dd>"));
    assert!(page.contains("<dt>backend</dt><dd>sim</dd>"));

    // Every verdict, with its evidence.
    assert_eq!(report.invariants.len(), 5);
    for v in &report.invariants {
        let row = format!(
            "<td class=\"held\">HELD</td><td>{}</td><td>{}</td>",
            html::esc(&v.label),
            html::esc(&v.during)
        );
        assert!(page.contains(&row), "no row `{row}`");
        assert!(page.contains(&html::esc(&v.message)), "{}", v.message);
    }

    // Four charts: latency, outcomes, calls, wasted work (drawn when some
    // work was wasted, as here: ledger-1's kill and fraud-2's latency waste
    // some); each an SVG.
    assert!(report.work.wasted_ms > 0.0, "{:?}", report.work);
    let figures = charts(&page);
    assert_eq!(figures.len(), 4, "charts: {}", figures.len());
    for f in &figures {
        assert_eq!(f.matches("<svg ").count(), 1);
        assert!(f.contains("</svg>"));
    }
    // Both timelines: one shaded window and one label per fault, the
    // deadline in the latency chart's legend.
    assert_eq!(report.faults.len(), 2);
    for timeline in &figures[..2] {
        for f in &report.faults {
            let c = chart::FAULT_HUES[f.index];
            let shade = format!("opacity=\"0.2\" fill=\"{}\"", hex(c.0, c.1, c.2));
            assert_eq!(timeline.matches(&shade).count(), 1, "shade of fault {f:?}");
            let label = format!(">\n{}\n</text>", html::esc(&chart::fault_label(f)));
            assert_eq!(timeline.matches(&label).count(), 1, "label of {f:?}");
        }
    }
    // The legends are HTML above the charts.
    assert!(page.contains("</i>deadline 200ms</span>"));
    for name in [
        "p50", "p99", "max", "ok", "degraded", "error", "failed", "timeout",
    ] {
        assert!(page.contains(&format!("</i>{name}</span>")), "{name}");
    }
    for svc in report.services.keys() {
        assert!(figures[2].contains(&format!(">\n{svc}\n</text>")), "{svc}");
    }

    // The fault timeline table and a waterfall per slow request.
    for f in &report.faults {
        assert!(page.contains(&format!("<td>{}</td>", html::esc(&f.detail))));
    }
    assert_eq!(report.slowest.len(), 10);
    for t in &report.slowest {
        assert!(page.contains(&format!("aria-label=\"trace of request {}\"", t.request)));
    }

    // The first failures: a heading per phase and outcome, a waterfall per
    // request kept (ledger-1's kill answers errors, fraud-2's latency
    // degraded answers, both in the faults phase).
    assert!(page.contains("<section id=\"first-failures\">\n<h2>First failures</h2>"));
    let faults = &report.first_failures["faults"].0;
    assert!(faults.contains_key("degraded"), "{:?}", faults.keys());
    for (kind, traces) in faults {
        assert!(page.contains(&format!("<h3>faults: {kind}</h3>")), "{kind}");
        assert!((1..=3).contains(&traces.len()), "{kind}: {}", traces.len());
        assert!(traces.iter().all(|t| t.outcome == *kind), "{kind}");
    }
    let kept: usize = report
        .first_failures
        .values()
        .flat_map(|kinds| kinds.0.values())
        .map(Vec::len)
        .sum();
    assert_eq!(
        page.matches("<svg class=\"waterfall\"").count(),
        report.slowest.len() + kept
    );
    // The same requests and traces come from the record's requests and
    // traces (as for Docker) as from the figures streamed during the run.
    let mut whole = record.clone();
    whole.figures = None;
    let of_record = Report::build(&scenario, &whole, evaluate(&scenario, &whole));
    let json = |r: &Report| {
        serde_json::to_string_pretty(&(&r.slowest, &r.first_failures)).unwrap_or_default()
    };
    assert_eq!(json(&of_record), json(&report));

    // What the scenario file supplies is escaped, and a failure shows red.
    let mut hostile = report.clone();
    hostile.description = "<script>alert('x')</script> & co".into();
    let svc = hostile.services.shift_remove("ledger").unwrap();
    hostile.services.insert("<b>ledger</b>".into(), svc);
    hostile.verdict = "fail";
    hostile.invariants[0].held = false;
    let page = html::render(&hostile);
    assert!(!page.contains("<script"));
    assert!(!page.contains("<b>ledger</b>"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    assert!(page.contains("&lt;b&gt;ledger&lt;/b&gt;"));
    assert!(page.contains("<span class=\"badge fail\">FAIL</span>"));
    assert!(page.contains("<td class=\"failed\">FAILED</td><td>answered</td>"));
}

/// What one second of load may add to report.html: its row in the per-second
/// table, its points in the latency timeline and its bars in the outcomes
/// one. docs/suites.md states the bound this gives a 10-minute run.
const HTML_BYTES_PER_SECOND: u64 = 400;
/// Everything that does not grow with the run: header, verdicts, faults,
/// services, ten waterfalls of the slowest requests and those of the first
/// failures (at most three per phase and kind), the stylesheet.
const HTML_BYTES_FIXED: u64 = 110_000;

/// report.html of a `squall run` of `scenarios/card-auth.toml` for `secs`
/// seconds of load, in bytes. The binary, not the library: a second
/// simulation in this process could diverge (see the top of this file).
fn html_bytes(secs: u64) -> u64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["run", "scenarios/card-auth.toml", "--duration"])
        .arg(format!("{secs}s"))
        .arg("--out")
        .arg(out.path())
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = std::fs::read_dir(out.path().join("card-auth"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::metadata(run.join("report.html")).unwrap().len()
}

#[test]
fn the_page_grows_by_a_bounded_amount_per_second_of_load() {
    let (short, long) = (html_bytes(20), html_bytes(60));
    eprintln!("report.html: {short} bytes for 20s, {long} bytes for 60s");
    let per_second = (long.saturating_sub(short)) / 40;
    assert!(
        per_second <= HTML_BYTES_PER_SECOND,
        "{per_second} bytes per second of load (bound {HTML_BYTES_PER_SECOND})"
    );
    assert!(
        long <= HTML_BYTES_FIXED + 60 * HTML_BYTES_PER_SECOND,
        "{long} bytes for 60s"
    );
}
