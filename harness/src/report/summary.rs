//! `summary.md`: the run on one page, for a CI artifact or a pull request.

use std::fmt::Write;

use crate::invariant::thousands;
use crate::report::{fmt_duration, Report};
use crate::stats::Summary;

/// A figure in milliseconds for a table or a trace: at most one decimal,
/// none when it is whole (`17.6`, `200`), so float noise such as
/// `1.6649999999999636` never reaches a reader. report.json keeps the
/// exact figure.
pub fn ms(v: f64) -> String {
    let s = format!("{:.1}", (v * 10.0).round() / 10.0);
    s.strip_suffix(".0").unwrap_or(&s).to_owned()
}

/// Milliseconds as a duration in the terminal's style (`419.9s`, `23ms`).
pub(crate) fn ms_as_duration(v: f64) -> String {
    fmt_duration(std::time::Duration::from_secs_f64(v.max(0.0) / 1000.0))
}

/// A stretch of a trace, milliseconds since the request's scheduled send,
/// as durations: `1.9ms..73.9ms` (never `1.9290000000000873..73.92900000000009`).
pub(crate) fn span(start_ms: f64, end_ms: f64) -> String {
    format!("{}..{}", ms_as_duration(start_ms), ms_as_duration(end_ms))
}

/// Seconds as the terminal writes them (`2s`, `1.5s`).
pub(crate) fn secs(v: f64) -> String {
    fmt_duration(std::time::Duration::from_secs_f64(v.max(0.0)))
}

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
    if r.interrupted {
        let _ = writeln!(
            s,
            "**Interrupted** (Ctrl-C or SIGTERM) after {}s of load: the figures cover only what was measured until then.\n",
            r.workload.duration_s
        );
    }
    let _ = writeln!(
        s,
        "Backend `{}`, seed `{}`, {} requests at {}/s ({}) for {} to `{}` `{}`, deadline {}, warm-up {}.\n",
        r.backend,
        r.seed,
        thousands(r.workload.offered),
        r.workload.rate,
        r.workload.arrival,
        secs(r.workload.duration_s),
        r.workload.target,
        r.workload.path,
        ms_as_duration(r.workload.deadline_ms),
        secs(r.workload.warmup_s)
    );
    if let Some(behind) = r.workload.behind_sentence() {
        let _ = writeln!(s, "**{behind}**\n");
    }
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
            thousands(m.requests),
            thousands(m.ok),
            thousands(m.degraded),
            thousands(m.errors),
            thousands(m.failed),
            thousands(m.timeouts),
            ms(m.p50_ms),
            ms(m.p99_ms),
            ms(m.max_ms)
        );
    };
    row(&mut s, "all (after warm-up)", "warm-up to end", &r.totals);
    for (name, p) in &r.phases {
        row(&mut s, name, &p.spans.join(", "), &p.summary);
    }
    if !r.faults.is_empty() {
        let _ = writeln!(
            s,
            "\n## Faults\n\n| # | fault | from | to | touches |\n|---|---|---|---|---|"
        );
        for f in &r.faults {
            let end = f.end_s.map(secs).unwrap_or_else(|| "end".into());
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
                "| {} | {} | {} | {end} | {touches} |",
                f.index + 1,
                f.detail,
                secs(f.start_s)
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Calls per service\n\n| service | calls | per offered request |\n|---|---|---|"
    );
    for (name, svc) in &r.services {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.2} |",
            thousands(svc.calls),
            svc.amplification
        );
    }
    let _ = writeln!(
        s,
        "\n## Work\n\n{} of endpoint work, {} of it wasted (done after the caller stopped waiting): {}.\n\n| service | work ms | wasted ms | wasted |\n|---|---|---|---|",
        ms_as_duration(r.work.total_ms),
        ms_as_duration(r.work.wasted_ms),
        crate::invariant::pct(r.work.wasted_ratio)
    );
    for (name, w) in &r.work.services {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            ms(w.total_ms),
            ms(w.wasted_ms),
            crate::invariant::pct(w.wasted_ratio)
        );
    }
    if !r.slowest.is_empty() {
        let _ = writeln!(
            s,
            "\n## Slowest requests\n\nTimes from the request's scheduled send. Each hop: instance, path, when it ran, its own work, its answer; under it, its attempts downstream.\n"
        );
        for t in &r.slowest {
            let _ = writeln!(
                s,
                "- request {} at {}: **{}, {}** ({}, {}, {})",
                t.request,
                ms_as_duration(t.scheduled_ms),
                ms_as_duration(t.latency_ms),
                t.outcome,
                plural(t.attempts, "attempt", "attempts"),
                plural(t.retries, "retry", "retries"),
                plural(t.hedges, "hedge", "hedges")
            );
            for h in &t.hops {
                let answer = h.status.map_or_else(
                    || {
                        "no answer (dropped: the caller stopped waiting or the instance died)"
                            .to_owned()
                    },
                    |s| format!("answered {s}"),
                );
                let note = h.note.map(|n| format!(" ({n})")).unwrap_or_default();
                let wasted = if h.wasted_ms > 0.0 {
                    format!(", {} wasted", ms_as_duration(h.wasted_ms))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "  - `{}` {} {}: work {}{wasted}, {answer}{note}",
                    h.instance,
                    h.path,
                    span(h.start_ms, h.end_ms),
                    ms_as_duration(h.work_ms)
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
                        "    - -> `{to}` ({}{kind}) {}: {}",
                        a.service,
                        span(a.start_ms, a.end_ms),
                        a.outcome
                    );
                }
            }
        }
    }
    if !r.first_failures.is_empty() {
        let _ = writeln!(
            s,
            "\n## First failures\n\nPer phase and outcome, the first requests that ended so (their traces are in report.json and report.html).\n"
        );
        for (phase, kinds) in &r.first_failures {
            for (kind, traces) in &kinds.0 {
                let requests: Vec<String> = traces
                    .iter()
                    .map(|t| {
                        format!(
                            "{} at {} ({}ms)",
                            t.request,
                            ms_as_duration(t.scheduled_ms),
                            ms(t.latency_ms)
                        )
                    })
                    .collect();
                let _ = writeln!(s, "- {phase}, {kind}: {}", requests.join(", "));
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
            "| {}s{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sec.t,
            if (sec.t as f64) < r.workload.warmup_s {
                " (warm-up)"
            } else {
                ""
            },
            m.requests,
            m.ok,
            m.degraded,
            m.errors + m.failed,
            m.timeouts,
            ms(m.p50_ms),
            ms(m.p99_ms),
            ms(m.max_ms)
        );
    }
    s
}

/// `1 retry`, `2 retries`.
fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    if n == N::from(1) {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_rounded_for_people() {
        // The audit's example: a Poisson arrival's float noise.
        assert_eq!(ms(1.6649999999999636), "1.7");
        assert_eq!(ms(44.664999999999964), "44.7");
        assert_eq!(ms(200.0), "200");
        assert_eq!(ms(17.578), "17.6");
        assert_eq!(ms_as_duration(419_884.0), "419.9s");
        assert_eq!(ms_as_duration(23.0), "23ms");
        assert_eq!(ms_as_duration(16_250.331), "16.3s");
        assert_eq!(secs(2.0), "2s");
        // A slowest request's hop, as the audit saw it printed.
        assert_eq!(span(1.9290000000000873, 73.92900000000009), "1.9ms..73.9ms");
        assert_eq!(span(0.0, 0.25), "0ms..250us");
        assert_eq!(plural(1usize, "retry", "retries"), "1 retry");
        assert_eq!(plural(2usize, "retry", "retries"), "2 retries");
    }
}
