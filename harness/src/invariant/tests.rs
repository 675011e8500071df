//! Unit tests of the invariant checkers on hand-made records: each checker's
//! figure, its verdict at the boundary, and the window it blames.

use std::time::Duration;

use indexmap::IndexMap;

use super::*;
use crate::record::{AppliedFault, Outcome, RequestRecord, RunRecord};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// 100 requests a second for `secs` seconds; `latency(t_ms)` and
/// `outcome(t_ms)` decide each request by its scheduled millisecond.
fn record(
    secs: u64,
    latency: impl Fn(u64) -> u64,
    outcome: impl Fn(u64) -> Outcome,
    faults: &[(u64, Option<u64>)],
) -> RunRecord {
    let requests = (0..secs * 100)
        .map(|i| {
            let t = i * 10;
            RequestRecord {
                scheduled: Duration::from_millis(t),
                latency: Duration::from_millis(latency(t)),
                outcome: outcome(t),
            }
        })
        .collect();
    let faults = faults
        .iter()
        .enumerate()
        .map(|(index, (start, end))| AppliedFault {
            index,
            kind: crate::fault::FaultClass::Kill,
            detail: String::new(),
            targets: vec![],
            start: Duration::from_secs(*start),
            end: end.map(Duration::from_secs),
        })
        .collect();
    RunRecord {
        backend: crate::engine::BackendKind::Sim,
        seed: 1,
        duration: Duration::from_secs(secs),
        requests,
        faults,
        received: IndexMap::new(),
        traces: Vec::new(),
        figures: None,
    }
}

/// The figures of `r` for one invariant of `kind`, streamed as a run would.
fn figures_of(r: &RunRecord, p: &Phases, kind: InvariantKind) -> Figures {
    let mut f = Figures::with_invariants(p.clone(), &[&kind], &Figures::services_of(r));
    f.feed(r);
    f
}

fn window_of(f: &Figures) -> &WindowFigures {
    match &f.invariants[0] {
        InvariantFigures::Window(w) => w,
        other => panic!("not a window: {other:?}"),
    }
}

// The checkers as they were called on a record, through streamed figures.

fn latency(r: &RunRecord, p: &Phases, pct: f64, max: Duration, during: &Window) -> Verdict {
    let kind = InvariantKind::Latency {
        percentile: pct,
        max,
        during: *during,
    };
    super::latency(
        InvariantId(0),
        window_of(&figures_of(r, p, kind)),
        pct,
        max,
        during,
    )
}

fn answered(r: &RunRecord, p: &Phases, max_ratio: f64) -> Verdict {
    let f = figures_of(r, p, InvariantKind::Answered { max_ratio });
    super::answered(InvariantId(0), window_of(&f), max_ratio)
}

fn success(r: &RunRecord, p: &Phases, min: f64, degraded: bool, during: &Window) -> Verdict {
    let kind = InvariantKind::Success {
        min,
        degraded_is_success: degraded,
        during: *during,
    };
    super::success(
        InvariantId(0),
        window_of(&figures_of(r, p, kind)),
        min,
        degraded,
        during,
    )
}

fn recovery(r: &RunRecord, p: &Phases, within: Duration) -> Verdict {
    let f = figures_of(r, p, InvariantKind::Recovery { within });
    match &f.invariants[0] {
        InvariantFigures::Recovery(rec) => super::recovery(InvariantId(0), r, &f, rec, within),
        other => panic!("not recovery: {other:?}"),
    }
}

fn wasted_work(r: &RunRecord, max_ratio: f64) -> Verdict {
    let f = figures_of(r, &phases(r), InvariantKind::WastedWork { max_ratio });
    super::wasted_work(InvariantId(0), r, &f, max_ratio, &[], false)
}

fn amplification(r: &RunRecord, service: &str, max: f64) -> Verdict {
    let kind = InvariantKind::Amplification {
        service: service.into(),
        max,
    };
    super::amplification(
        InvariantId(0),
        r,
        &figures_of(r, &phases(r), kind),
        service,
        max,
    )
}

fn phases(r: &RunRecord) -> Phases {
    Phases::of(r, S, 100 * MS)
}

#[test]
fn latency_percentile_is_judged_in_its_window_and_blames_the_worst_second() {
    // 10ms everywhere, 80ms for the whole of second 5, inside a 4s..7s fault.
    let r = record(
        10,
        |t| if (5000..6000).contains(&t) { 80 } else { 10 },
        |_| Outcome::Ok,
        &[(4, Some(7))],
    );
    let p = phases(&r);
    let all = latency(&r, &p, 99.0, 50 * MS, &Window::All);
    assert!(!all.held);
    assert_eq!(all.observed, Some(80.0));
    assert_eq!(all.worst_window.as_deref(), Some("5s..6s"));
    assert!(
        all.message
            .contains("p99 80ms > 50ms during all (worst window 5s..6s: 80ms)"),
        "{}",
        all.message
    );
    // The baseline (1s..3.9s: warm-up excluded, one deadline before the fault) is fast.
    let base = latency(&r, &p, 99.0, 50 * MS, &Window::Baseline);
    assert!(base.held, "{base:?}");
    assert_eq!(base.observed, Some(10.0));
    // p50 during faults is 10ms: only a third of the fault window is slow.
    let p50 = latency(&r, &p, 50.0, 10 * MS, &Window::Faults);
    assert!(p50.held, "{p50:?}");
    // An explicit range.
    let range = latency(&r, &p, 99.0, 50 * MS, &Window::Range(7 * S, 10 * S));
    assert!(range.held);
    assert_eq!(range.during, "7s..10s");
}

#[test]
fn answered_counts_timeouts_after_warmup_against_the_ratio() {
    // One timeout every 100 requests; the warm-up second is all timeouts.
    let r = record(
        10,
        |_| 5,
        |t| {
            if t < 1000 || t % 1000 == 0 {
                Outcome::Timeout
            } else {
                Outcome::Ok
            }
        },
        &[],
    );
    let p = phases(&r);
    let v = answered(&r, &p, 0.01);
    assert!(v.held, "{v:?}");
    assert_eq!(v.observed, Some(9.0 / 900.0));
    let strict = answered(&r, &p, 0.0);
    assert!(!strict.held);
    assert!(
        strict
            .message
            .starts_with("9 of 900 requests timed out (1% > max 0%)"),
        "{}",
        strict.message
    );
    assert!(
        strict
            .message
            .ends_with("(worst window 1s..2s: 1 timed out)"),
        "the worst window's figure has its unit: {}",
        strict.message
    );
    assert_eq!(strict.worst_window.as_deref(), Some("1s..2s"));
}

#[test]
fn success_counts_degraded_answers_as_the_scenario_says() {
    let r = record(
        5,
        |_| 5,
        |t| {
            if t % 20 == 0 {
                Outcome::Degraded(vec!["merchant".into()])
            } else {
                Outcome::Ok
            }
        },
        &[],
    );
    let p = phases(&r);
    let counted = success(&r, &p, 0.99, true, &Window::All);
    assert!(counted.held);
    assert_eq!(counted.observed, Some(1.0));
    let strict = success(&r, &p, 0.99, false, &Window::All);
    assert!(!strict.held);
    assert_eq!(strict.observed, Some(0.5));
    assert!(
        strict.message.contains("200 degraded counted failed"),
        "{}",
        strict.message
    );
}

#[test]
fn errors_failures_and_timeouts_all_count_against_success() {
    let r = record(
        2,
        |_| 5,
        |t| match t % 40 {
            0 => Outcome::Error(503),
            10 => Outcome::Failed,
            20 => Outcome::Timeout,
            _ => Outcome::Ok,
        },
        &[],
    );
    let v = success(&r, &phases(&r), 0.5, true, &Window::All);
    assert_eq!(v.observed, Some(0.25));
    assert!(!v.held);
}

#[test]
fn recovery_measures_from_the_last_heal_to_the_first_good_second() {
    // Baseline 10ms; the fault 3s..5s makes everything 150ms until 6.5s.
    let slow_until = |end: u64| move |t: u64| if (3000..end).contains(&t) { 150 } else { 10 };
    let r = record(10, slow_until(6500), |_| Outcome::Ok, &[(3, Some(5))]);
    let p = phases(&r);
    let v = recovery(&r, &p, 2 * S);
    assert!(v.held, "{v:?}");
    assert_eq!(
        v.observed,
        Some(2.0),
        "windows 5..6 and 6..7 are slow, 7s on is fine"
    );
    assert!(
        v.message
            .starts_with("recovered 2s after the last heal at 5s (within 2s;"),
        "{}",
        v.message
    );
    let late = recovery(&r, &p, S);
    assert!(!late.held);
    assert_eq!(late.worst_window.as_deref(), Some("6s..7s"));
    // Never recovered.
    let r = record(10, slow_until(10_000), |_| Outcome::Ok, &[(3, Some(5))]);
    let v = recovery(&r, &phases(&r), 2 * S);
    assert!(!v.held);
    assert!(
        v.message.starts_with("not recovered by the end of the run"),
        "{}",
        v.message
    );
}

#[test]
fn recovery_judges_the_seconds_to_the_end_together_so_one_noisy_second_does_not_undo_it() {
    // Baseline 10ms (bound 20ms); 100 requests a second. Two requests of the
    // last second at 40ms make that second's p99 40ms, but the five seconds
    // from the heal on, together, are within bounds.
    let noisy = |t: u64| if t == 9500 || t == 9510 { 40 } else { 10 };
    let r = record(10, noisy, |_| Outcome::Ok, &[(3, Some(5))]);
    let v = recovery(&r, &phases(&r), S);
    assert!(v.held, "{v:?}");
    assert_eq!(v.observed, Some(0.0));
    // A second that is out of bounds by itself still holds recovery back
    // until after it, even with good seconds before it.
    let bad_second = |t: u64| if (7000..8000).contains(&t) { 40 } else { 10 };
    let r = record(10, bad_second, |_| Outcome::Ok, &[(3, Some(5))]);
    let v = recovery(&r, &phases(&r), 5 * S);
    assert!(v.held, "{v:?}");
    assert_eq!(v.observed, Some(3.0), "{}", v.message);
    let late = recovery(&r, &phases(&r), 2 * S);
    assert!(!late.held);
    assert_eq!(late.worst_window.as_deref(), Some("7s..8s"));
    // Failures count the same way: 3 errors in the last second (97%, bound 99%).
    let errors = |t: u64| {
        if (9000..9030).contains(&t) {
            Outcome::Error(503)
        } else {
            Outcome::Ok
        }
    };
    let r = record(10, |_| 10, errors, &[(3, Some(5))]);
    let v = recovery(&r, &phases(&r), S);
    assert!(v.held, "{v:?}");
}

#[test]
fn recovery_in_the_first_window_says_so_without_a_false_precision() {
    // Windows are whole seconds: an immediate recovery is "in the first second", not "0ms".
    let r = record(10, |_| 10, |_| Outcome::Ok, &[(3, Some(5))]);
    let v = recovery(&r, &phases(&r), S);
    assert!(v.held, "{v:?}");
    assert_eq!(v.observed, Some(0.0));
    assert!(
        v.message
            .starts_with("recovered in the first second after the last heal at 5s (within 1s;"),
        "{}",
        v.message
    );
}

#[test]
fn recovery_cannot_be_judged_without_a_heal() {
    let r = record(5, |_| 5, |_| Outcome::Ok, &[]);
    let v = recovery(&r, &phases(&r), S);
    assert!(!v.held);
    assert!(v.message.contains("no fault in the run"), "{}", v.message);
    let r = record(5, |_| 5, |_| Outcome::Ok, &[(2, None)]);
    let v = recovery(&r, &phases(&r), S);
    assert!(!v.held);
    assert!(v.message.contains("lasts to the end"), "{}", v.message);
}

#[test]
fn a_window_without_requests_fails_instead_of_passing_silently() {
    let r = record(5, |_| 5, |_| Outcome::Ok, &[]);
    let v = latency(&r, &phases(&r), 99.0, S, &Window::Faults);
    assert!(!v.held);
    assert_eq!(v.observed, None);
    assert!(v.message.contains("nothing to judge"), "{}", v.message);
}

#[test]
fn wasted_work_without_any_trace_fails_as_not_measured() {
    let mut r = record(2, |_| 5, |_| Outcome::Ok, &[]);
    r.traces = vec![Vec::new(); r.requests.len()];
    let v = wasted_work(&r, 0.01);
    assert!(!v.held);
    assert_eq!(v.observed, None);
    assert!(v.message.contains("not measured"), "{}", v.message);
    // One traced hop without work: measured, nothing wasted.
    r.traces[0].push(crate::record::Hop {
        instance: "a-1".into(),
        path: "/".into(),
        parent: None,
        start: Duration::ZERO,
        end: MS,
        work: None,
        wasted: Duration::ZERO,
        status: Some(200),
        note: None,
        attempts: Vec::new(),
    });
    let v = wasted_work(&r, 0.01);
    assert!(v.held, "{}", v.message);
    assert_eq!(v.observed, Some(0.0));
}

#[test]
fn amplification_divides_calls_by_offered_requests() {
    let mut r = record(2, |_| 5, |_| Outcome::Ok, &[]);
    let mut db = IndexMap::new();
    db.insert("db-1".to_owned(), 250);
    db.insert("db-2".to_owned(), 150);
    r.received.insert("db".to_owned(), db);
    let v = amplification(&r, "db", 1.5);
    assert_eq!(v.observed, Some(2.0));
    assert!(!v.held);
    assert!(amplification(&r, "db", 2.0).held);
    assert_eq!(amplification(&r, "nobody", 0.0).observed, Some(0.0));
}

#[test]
fn faults_phase_merges_overlapping_windows_and_baseline_stops_a_deadline_early() {
    let r = record(
        20,
        |_| 5,
        |_| Outcome::Ok,
        &[(5, Some(8)), (7, Some(10)), (12, Some(13))],
    );
    let p = phases(&r);
    assert_eq!(
        p.spans(&Window::Faults),
        vec![(5 * S, 10 * S), (12 * S, 13 * S)]
    );
    assert_eq!(p.spans(&Window::Baseline), vec![(S, 5 * S - 100 * MS)]);
    assert_eq!(p.spans(&Window::Recovery), vec![(13 * S, 20 * S)]);
    assert_eq!(p.last_heal, Some(13 * S));
}

#[test]
fn figures_read_well() {
    assert_eq!(thousands(29_940), "29,940");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000_000), "1,000,000");
    assert_eq!(pct(0.9995), "99.95%");
    assert_eq!(pct(0.0), "0%");
}

/// Each kept list as `((phase, kind), indices)`.
fn kept_failures(f: &Figures) -> Vec<((usize, FailureKind), Vec<usize>)> {
    f.failures
        .iter()
        .map(|(k, xs)| (*k, xs.iter().map(|x| x.index).collect()))
        .collect()
}

#[test]
fn the_first_failures_of_each_kind_are_kept_per_phase() {
    let r = record(
        10,
        |_| 5,
        |t| match t {
            3000..=3090 | 7000..=7090 => Outcome::Timeout,
            5000 | 5500 => Outcome::Error(503),
            5100 => Outcome::Error(502),
            _ => Outcome::Ok,
        },
        &[(4, Some(6))],
    );
    let f = figures_of(&r, &phases(&r), InvariantKind::Answered { max_ratio: 0.0 });
    assert_eq!(
        kept_failures(&f),
        [
            ((0, FailureKind::Timeout), vec![300, 301, 302]),
            ((1, FailureKind::Error(502)), vec![510]),
            ((1, FailureKind::Error(503)), vec![500, 550]),
            ((2, FailureKind::Timeout), vec![700, 701, 702]),
        ]
    );
}

#[test]
fn failure_exemplars_stay_bounded_however_many_requests_fail() {
    // 60,000 requests, every one failing, in four kinds: memory for exemplars
    // must not grow with them.
    let r = record(
        600,
        |_| 5,
        |t| match (t / 10) % 4 {
            0 => Outcome::Timeout,
            1 => Outcome::Failed,
            2 => Outcome::Error(503),
            _ => Outcome::Degraded(vec!["fraud".into()]),
        },
        &[(200, Some(400))],
    );
    let f = figures_of(&r, &phases(&r), InvariantKind::Answered { max_ratio: 0.0 });
    assert_eq!(f.failures.len(), 3 * 4, "{:?}", kept_failures(&f));
    for ((phase, kind), xs) in &f.failures {
        assert_eq!(xs.len(), FIRST_FAILURES, "{phase} {kind}");
        assert!(
            xs.windows(2).all(|w| w[0].index < w[1].index),
            "{phase} {kind}"
        );
        assert!(xs
            .iter()
            .all(|x| FailureKind::of(&x.request.outcome) == Some(*kind)));
    }
    // The first ones: the faults phase starts at 200s, request 20,000.
    assert_eq!(
        kept_failures(&f)[4],
        ((1, FailureKind::Degraded), vec![20_003, 20_007, 20_011])
    );
}

#[test]
fn failure_exemplars_do_not_depend_on_the_order_traces_end_in() {
    let r = record(
        10,
        |_| 5,
        |t| match t {
            4000..=5990 if t % 70 == 0 => Outcome::Timeout,
            4000..=5990 if t % 30 == 0 => Outcome::Error(503),
            _ => Outcome::Ok,
        },
        &[(4, Some(6))],
    );
    let in_order = figures_of(&r, &phases(&r), InvariantKind::Answered { max_ratio: 0.0 });
    // As the joiner hands them over: answers first, traces later, latest first.
    let kind = InvariantKind::Answered { max_ratio: 0.0 };
    let mut reversed = Figures::with_invariants(phases(&r), &[&kind], &Figures::services_of(&r));
    for q in &r.requests {
        reversed.sent(q.scheduled);
        reversed.answered(q);
    }
    for (i, q) in r.requests.iter().enumerate().rev() {
        reversed.trace(i, Some(q), Vec::new());
    }
    reversed.finish();
    assert_eq!(kept_failures(&reversed), kept_failures(&in_order));
    assert_eq!(
        kept_failures(&in_order),
        [
            ((1, FailureKind::Error(503)), vec![402, 405, 408]),
            ((1, FailureKind::Timeout), vec![406, 413, 420]),
        ]
    );
}

/// On Docker a service running an image of its own keeps no counter and no
/// spans: the invariants that need them say "not measured" and do not hold;
/// in the simulator (squall's model of it) they are judged.
#[test]
fn what_an_image_of_its_own_cannot_show_is_not_measured_on_docker() {
    let text = "duration = \"2s\"\nworkload = { target = \"web\", path = \"/\", rate = 100, deadline = \"1s\" }\n\
        [services.web]\n[services.web.endpoints.\"/\"]\n[services.web.docker]\nimage = \"acme/web:1\"\nport = 8080\n\
        [[invariants]]\nkind = \"amplification\"\nservice = \"web\"\nmax = 1.5\n\
        [[invariants]]\nkind = \"wasted_work\"\n\
        [[invariants]]\nkind = \"answered\"\n";
    let scenario = crate::scenario::parse(text, std::path::Path::new("t.toml")).unwrap();
    let mut r = record(2, |_| 5, |_| Outcome::Ok, &[]);
    r.backend = crate::engine::BackendKind::Docker;
    r.traces = vec![Vec::new(); r.requests.len()];
    let v = evaluate(&scenario, &r);
    assert!(!v[0].held);
    assert_eq!(v[0].observed, None);
    assert!(
        v[0].message
            .starts_with("not measured: `web` runs image `acme/web:1`"),
        "{}",
        v[0].message
    );
    assert!(!v[1].held);
    assert!(
        v[1].message
            .starts_with("not measured: no service keeps squall's spans (`web`"),
        "{}",
        v[1].message
    );
    // The load driver's own figures are judged as ever.
    assert!(v[2].held, "{}", v[2].message);
    r.backend = crate::engine::BackendKind::Sim;
    r.received = IndexMap::from([(
        "web".to_owned(),
        IndexMap::from([("web-1".to_owned(), 200)]),
    )]);
    let v = evaluate(&scenario, &r);
    assert!(v[0].held, "{}", v[0].message);
    assert_eq!(v[0].observed, Some(1.0));
}
