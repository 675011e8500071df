//! Traces on Docker: every container's spans are read back over
//! `/squall/spans`, lined up with the harness's clock and joined per request,
//! as in the simulator; the workload's deadline travels in `squall-deadline`;
//! a latency fault delays each direction by half (the simulator's symmetric
//! links), which only the instances' own spans can show.

use std::time::Duration;

use squall::engine::RunOptions;
use squall::record::{Hop, RunRecord};

use crate::{assert_clean, rt, scenario, setup};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(text: &str) -> RunRecord {
    let s = scenario(text);
    squall::docker::run(&s, &RunOptions::default()).expect("the Docker run failed")
}

fn hop<'a>(hops: &'a [Hop], instance: &str) -> Option<&'a Hop> {
    hops.iter().find(|h| &*h.instance == instance)
}

/// edge forwards the caller's 60 ms deadline to db, whose 100 ms of work
/// cannot fit: db refuses at once, which it can only know from the header.
/// db's span sits inside edge's attempt on the joined timeline.
#[test]
fn spans_are_joined_on_one_timeline_and_the_deadline_travels() {
    let _lock = setup();
    let record = run(r#"
duration = "3s"
workload = { target = "edge", path = "/a", rate = 20, deadline = "60ms", warmup = "0s" }
[services.edge]
propagate_deadline = true
[services.edge.endpoints."/a"]
work = "1ms"
calls = [{ to = "db", path = "/b", timeout = "200ms" }]
[services.db]
propagate_deadline = true
[services.db.endpoints."/b"]
work = "100ms"
"#);
    let n = record.requests.len();
    assert!(n >= 55, "{n} requests");
    let mut refused = 0;
    let mut offsets = Vec::new();
    for (request, hops) in record.requests.iter().zip(&record.traces) {
        let (Some(edge), Some(db)) = (hop(hops, "edge-1"), hop(hops, "db-1")) else {
            continue;
        };
        if db.note == Some(squall_fixture::trace::NOTE_WOULD_MISS) {
            refused += 1;
        }
        // The edge's span starts when the driver sent the request.
        offsets.push(ms(edge.start) - ms(request.scheduled));
        // db's span lies within the edge's attempt that caused it.
        let parent = db.parent.as_deref().expect("db names its caller");
        let attempt = edge
            .attempts
            .iter()
            .find(|a| parent == format!("edge-1#{}", a.id))
            .expect("the parent attempt is in the edge's span");
        assert!(
            db.start + Duration::from_millis(1) >= attempt.start
                && db.end <= attempt.end + Duration::from_millis(1),
            "db {:?}..{:?} outside edge's attempt {:?}..{:?}",
            db.start,
            db.end,
            attempt.start,
            attempt.end
        );
    }
    offsets.sort_by(f64::total_cmp);
    eprintln!(
        "{} of {n} requests traced through edge and db; db refused {refused} (work would miss the deadline); \
         edge span start - scheduled: median {:.2}ms, max {:.2}ms",
        offsets.len(),
        offsets.get(offsets.len() / 2).copied().unwrap_or(f64::NAN),
        offsets.last().copied().unwrap_or(f64::NAN),
    );
    assert!(offsets.len() >= n * 95 / 100, "traces missing");
    assert!(
        refused >= offsets.len() * 95 / 100,
        "the deadline did not reach db"
    );
    let median = offsets[offsets.len() / 2];
    assert!(
        (0.0..5.0).contains(&median),
        "edge starts {median:.2}ms after the send"
    );
    // Wasted work is measured from these traces: db refused, so none.
    assert_eq!(record.work(None).wasted, Duration::ZERO);
    rt().block_on(assert_clean(None));
}

/// +100 ms on the link between the workload and edge from 1 s to 3 s: a
/// request reaches edge 50 ms late and its answer takes 50 ms more, as on the
/// simulator's links.
#[test]
fn a_latency_fault_delays_each_direction_by_half() {
    let _lock = setup();
    let record = run(r#"
duration = "4s"
workload = { target = "edge", path = "/a", rate = 25, deadline = "500ms", warmup = "0s" }
[services.edge]
[services.edge.endpoints."/a"]
work = "0ms"
[[faults]]
kind = "latency"
target = "edge"
delay = "100ms"
at = "1s"
for = "2s"
"#);
    let (mut inbound, mut round_trip, mut outside) = (Vec::new(), Vec::new(), Vec::new());
    for (request, hops) in record.requests.iter().zip(&record.traces) {
        let Some(edge) = hop(hops, "edge-1") else {
            continue;
        };
        let late = ms(edge.start) - ms(request.scheduled);
        let at = request.scheduled;
        if at >= Duration::from_millis(1200) && at < Duration::from_millis(2800) {
            inbound.push(late);
            round_trip.push(ms(request.latency));
        } else if at < Duration::from_millis(900) || at >= Duration::from_millis(3200) {
            outside.push(late);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (inbound_ms, round_trip_ms, outside_ms) = (
        median(&mut inbound),
        median(&mut round_trip),
        median(&mut outside),
    );
    eprintln!(
        "with +100ms: request reaches edge after {inbound_ms:.2}ms, round trip {round_trip_ms:.2}ms \
         ({} requests); without: {outside_ms:.2}ms ({} requests)",
        inbound.len(),
        outside.len()
    );
    assert!(inbound.len() >= 35 && outside.len() >= 25, "traces missing");
    assert!(
        (45.0..=58.0).contains(&inbound_ms),
        "one way {inbound_ms:.2}ms, asked 50ms"
    );
    assert!(
        (95.0..=110.0).contains(&round_trip_ms),
        "round trip {round_trip_ms:.2}ms, asked 100ms"
    );
    assert!(outside_ms < 5.0, "{outside_ms:.2}ms without the fault");
    rt().block_on(assert_clean(None));
}
