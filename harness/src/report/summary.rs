//! `summary.md`: the run on one page, for a CI artifact or a pull request.

use std::fmt::Write;

use crate::report::Report;
use crate::stats::Summary;

/// Renders the Markdown summary of a report.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let held = r.invariants.iter().filter(|v| v.held).count();
    let failed = r.invariants.len() - held;
    let _ = writeln!(
        s,
        "# squall: {} ({})\n",
        r.scenario,
        if r.held() { "PASS" } else { "FAIL" }
    );
    if !r.description.is_empty() {
        let _ = writeln!(s, "{}\n", r.description);
    }
    let _ = writeln!(
        s,
        "Backend `{}`, seed `{}`, {} requests at {}/s ({}) for {}s to `{}{}`, deadline {} ms, warm-up {}s.\n",
        r.backend,
        r.seed,
        r.workload.offered,
        r.workload.rate,
        r.workload.arrival,
        r.workload.duration_s,
        r.workload.target,
        r.workload.path,
        r.workload.deadline_ms,
        r.workload.warmup_s
    );
    let _ = writeln!(s, "## Invariants: {held} held, {failed} failed\n");
    let _ = writeln!(s, "| | invariant | during | result |\n|---|---|---|---|");
    for v in &r.invariants {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            if v.held { "held" } else { "**FAILED**" },
            v.label,
            v.during,
            v.message.replace('|', "\\|")
        );
    }
    let _ = writeln!(s, "\n## Phases\n");
    let _ = writeln!(
        s,
        "| phase | spans | requests | ok | degraded | errors | failed | timeouts | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let row = |s: &mut String, name: &str, spans: &str, m: &Summary| {
        let _ = writeln!(
            s,
            "| {name} | {spans} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.requests,
            m.ok,
            m.degraded,
            m.errors,
            m.failed,
            m.timeouts,
            m.p50_ms,
            m.p99_ms,
            m.max_ms
        );
    };
    row(&mut s, "all (after warm-up)", "", &r.totals);
    for (name, p) in &r.phases {
        row(&mut s, name, &p.spans.join(", "), &p.summary);
    }
    if !r.faults.is_empty() {
        let _ = writeln!(
            s,
            "\n## Faults\n\n| # | fault | from | to | touches |\n|---|---|---|---|---|"
        );
        for f in &r.faults {
            let end = f
                .end_s
                .map(|e| format!("{e}s"))
                .unwrap_or_else(|| "end".into());
            let mut touches = f
                .targets
                .iter()
                .take(6)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if f.targets.len() > 6 {
                let _ = write!(touches, " and {} more", f.targets.len() - 6);
            }
            let _ = writeln!(
                s,
                "| {} | {} | {}s | {end} | {touches} |",
                f.index + 1,
                f.detail,
                f.start_s
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Calls per service\n\n| service | calls | per offered request |\n|---|---|---|"
    );
    for (name, svc) in &r.services {
        let _ = writeln!(s, "| {name} | {} | {:.3} |", svc.calls, svc.amplification);
    }
    let _ = writeln!(
        s,
        "\n## Work\n\n{:.1} ms of endpoint work, {:.1} ms of it wasted (done after the caller stopped waiting): {}.\n\n| service | work ms | wasted ms | wasted |\n|---|---|---|---|",
        r.work.total_ms,
        r.work.wasted_ms,
        crate::invariant::pct(r.work.wasted_ratio)
    );
    for (name, w) in &r.work.services {
        let _ = writeln!(
            s,
            "| {name} | {:.1} | {:.1} | {} |",
            w.total_ms,
            w.wasted_ms,
            crate::invariant::pct(w.wasted_ratio)
        );
    }
    if !r.slowest.is_empty() {
        let _ = writeln!(
            s,
            "\n## Slowest requests\n\nTimes in ms from the request's scheduled send. Each hop: instance, path, when it ran, its own work, its answer; under it, its attempts downstream.\n"
        );
        for t in &r.slowest {
            let _ = writeln!(
                s,
                "- request {} at {}s: **{} ms, {}** ({} attempts, {} retries, {} hedges)",
                t.request,
                t.scheduled_ms / 1000.0,
                t.latency_ms,
                t.outcome,
                t.attempts,
                t.retries,
                t.hedges
            );
            for h in &t.hops {
                let status = h
                    .status
                    .map_or_else(|| "dropped".to_owned(), |s| s.to_string());
                let note = h.note.map(|n| format!(" ({n})")).unwrap_or_default();
                let wasted = if h.wasted_ms > 0.0 {
                    format!(", {} wasted", h.wasted_ms)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "  - `{}` {} {}..{}: work {}{wasted}, answered {status}{note}",
                    h.instance, h.path, h.start_ms, h.end_ms, h.work_ms
                );
                for a in &h.attempts {
                    let kind = match (a.hedge, a.retry) {
                        (true, _) => " hedge".to_owned(),
                        (false, 0) => String::new(),
                        (false, k) => format!(" retry {k}"),
                    };
                    let to = if a.to.is_empty() { "-" } else { &a.to };
                    let _ = writeln!(
                        s,
                        "    - -> `{to}` ({}{kind}) {}..{}: {}",
                        a.service, a.start_ms, a.end_ms, a.outcome
                    );
                }
            }
        }
    }
    if !r.degraded_by.is_empty() {
        let _ = writeln!(s, "\n## Degraded answers by missing dependency\n");
        for (name, n) in &r.degraded_by {
            let _ = writeln!(s, "- `{name}`: {n}");
        }
    }
    let _ = writeln!(s, "\n## Per second\n\n| t | requests | ok | degraded | errors+failed | timeouts | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|---|");
    for sec in &r.per_second {
        let m = &sec.summary;
        let _ = writeln!(
            s,
            "| {}s | {} | {} | {} | {} | {} | {} | {} | {} |",
            sec.t,
            m.requests,
            m.ok,
            m.degraded,
            m.errors + m.failed,
            m.timeouts,
            m.p50_ms,
            m.p99_ms,
            m.max_ms
        );
    }
    s
}
