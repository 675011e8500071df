//! Every fault kind, in the deterministic simulator: it does what the docs
//! claim while active, and healing undoes it.
//!
//! Each test builds a small scenario (workload -> `front` -> `back`), runs it
//! with `squall::sim::run` and compares the requests scheduled inside the fault
//! window with those scheduled before and after it, keeping a margin of one
//! deadline (or one call timeout) around the fault's edges.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use squall::engine::{RunError, RunOptions};
use squall::record::{Outcome, RequestRecord, RunRecord};
use squall::scenario::Scenario;

// ---------------------------------------------------------------- helpers

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn parse(text: &str) -> Scenario {
    squall::scenario::parse(text, Path::new("t.toml"))
        .unwrap_or_else(|e| panic!("scenario does not parse: {e}\n{text}"))
}

fn run(scenario: &Scenario) -> RunRecord {
    run_with(scenario, &RunOptions::default())
}

fn run_with(scenario: &Scenario, opts: &RunOptions) -> RunRecord {
    squall::sim::run(scenario, opts).unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// workload -> `front` (1 replica) -> `back` (`back` replicas).
///
/// `calls`: the body of front's `calls = [...]` (empty: front calls nobody);
/// `back_work`: back's `work`; `rest`: more TOML (faults), appended as is.
/// 100 requests/s, constant arrivals, no warm-up.
fn topology(duration: &str, deadline: &str, calls: &str, back: u32, rest: &str) -> String {
    format!(
        r#"
duration = "{duration}"
seed = 1

[workload]
target = "front"
path = "/"
rate = 100
deadline = "{deadline}"

[services.front.endpoints."/"]
work = "1ms"
calls = [{calls}]

[services.back]
replicas = {back}
[services.back.endpoints."/"]
work = "1ms"

{rest}
"#
    )
}

/// A required call from front to back with a per-attempt `timeout`, no retries.
fn call_back(timeout: &str) -> String {
    format!(r#"{{ to = "back", path = "/", timeout = "{timeout}" }}"#)
}

/// Requests scheduled in `[from, to)` (milliseconds since the load phase began).
fn window(record: &RunRecord, from: u64, to: u64) -> Vec<&RequestRecord> {
    record
        .requests
        .iter()
        .filter(|r| r.scheduled >= ms(from) && r.scheduled < ms(to))
        .collect()
}

fn label(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok => "ok".into(),
        Outcome::Degraded(names) => format!("degraded({})", names.join(",")),
        Outcome::Error(status) => format!("{status}"),
        Outcome::Failed => "failed".into(),
        Outcome::Timeout => "timeout".into(),
    }
}

/// Outcome -> count, for messages and assertions.
fn tally(requests: &[&RequestRecord]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in requests {
        *out.entry(label(&r.outcome)).or_insert(0) += 1;
    }
    out
}

fn count(requests: &[&RequestRecord], outcome: &Outcome) -> usize {
    requests.iter().filter(|r| r.outcome == *outcome).count()
}

/// Median latency (the lower middle for an even count).
fn median(requests: &[&RequestRecord]) -> Duration {
    assert!(!requests.is_empty(), "median of no requests");
    let mut latencies: Vec<Duration> = requests.iter().map(|r| r.latency).collect();
    latencies.sort();
    latencies[(latencies.len() - 1) / 2]
}

fn max_latency(requests: &[&RequestRecord]) -> Duration {
    requests.iter().map(|r| r.latency).max().unwrap_or_default()
}

fn min_latency(requests: &[&RequestRecord]) -> Duration {
    requests.iter().map(|r| r.latency).min().unwrap_or_default()
}

/// Per-250ms outcome counts and max latency, to explain a failed assertion.
fn timeline(record: &RunRecord) -> String {
    let mut out = String::new();
    let end = record.duration.as_millis() as u64;
    let mut from = 0;
    while from < end {
        let w = window(record, from, from + 250);
        let _ = writeln!(
            out,
            "  {:>5}ms  {:?}  max {:?}",
            from,
            tally(&w),
            max_latency(&w)
        );
        from += 250;
    }
    let _ = writeln!(out, "  received: {:?}", record.received);
    let _ = writeln!(out, "  faults: {:?}", record.faults);
    out
}

/// Every request in `requests` ended with `outcome`.
#[track_caller]
fn assert_all(record: &RunRecord, requests: &[&RequestRecord], outcome: &Outcome, what: &str) {
    assert!(!requests.is_empty(), "{what}: no requests in the window");
    assert_eq!(
        count(requests, outcome),
        requests.len(),
        "{what}: expected every request to be {}, got {:?}\n{}",
        label(outcome),
        tally(requests),
        timeline(record)
    );
}

fn received(record: &RunRecord, service: &str, instance: &str) -> u64 {
    record.received[service][instance]
}

// ------------------------------------------------------------------- kill

/// A killed instance is a silent death: its host is gone, connections to it
/// are neither accepted nor refused, so callers wait for their deadline.
/// Healing starts it again and it serves.
#[test]
fn kill_is_a_silent_death_and_heal_starts_it_again() {
    let text = topology(
        "8s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "kill"
target = "front-1"
at = "3s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    assert_eq!(record.faults[0].targets, ["front-1"]);

    assert_all(&record, &window(&record, 0, 2700), &Outcome::Ok, "before");
    // Killed: no refusal, no reset, the caller's deadline ends every request.
    let dead = window(&record, 3000, 4700);
    assert_all(&record, &dead, &Outcome::Timeout, "while killed");
    assert!(dead.iter().all(|r| r.latency == ms(300)));
    // Started again at 5s: everything sent a deadline later is served.
    let after = window(&record, 5300, 8000);
    assert_all(&record, &after, &Outcome::Ok, "after the heal");
    assert!(max_latency(&after) <= ms(10), "{}", timeline(&record));
}

/// Killing the only `back`: front's required call times out (100ms) and
/// front answers 502; no call reaches the dead instance. After the heal the
/// instance serves again.
#[test]
fn kill_of_a_dependency_turns_into_502_after_the_call_timeout() {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        1,
        r#"
[[faults]]
kind = "kill"
target = "back-1"
at = "3s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    let all = window(&record, 0, 8000);

    assert_all(&record, &window(&record, 0, 2900), &Outcome::Ok, "before");
    let dead = window(&record, 3000, 4900);
    assert_all(&record, &dead, &Outcome::Error(502), "while killed");
    // The 502 comes from front's 100ms call timeout (+ a few ms of work and
    // network), not from a refused connection.
    assert!(
        min_latency(&dead) >= ms(100) && max_latency(&dead) <= ms(110),
        "latency of 502s: {:?}..{:?}\n{}",
        min_latency(&dead),
        max_latency(&dead),
        timeline(&record)
    );
    assert_all(
        &record,
        &window(&record, 5100, 8000),
        &Outcome::Ok,
        "after the heal",
    );
    // Calls reached back only when it was up: one per successful request,
    // give or take the one or two in flight at the crash.
    let ok = count(&all, &Outcome::Ok) as u64;
    let got = received(&record, "back", "back-1");
    assert!(
        got >= ok && got <= ok + 2,
        "back-1 received {got}, {ok} requests ok\n{}",
        timeline(&record)
    );
}

/// A killed instance's open connections are closed (FIN): the calls it was
/// working on fail at the kill, not at front's call timeout.
#[test]
fn kill_closes_the_connections_in_flight() {
    let text = topology(
        "6s",
        "400ms",
        &call_back("250ms"),
        1,
        r#"
[[faults]]
kind = "kill"
target = "back-1"
at = "3s"
for = "1s"
"#,
    )
    .replace(
        "[services.back.endpoints.\"/\"]\nwork = \"1ms\"",
        "[services.back.endpoints.\"/\"]\nwork = \"100ms\"",
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 2890), &Outcome::Ok, "before");
    let in_flight = window(&record, 2905, 2995);
    assert!(!in_flight.is_empty());
    for r in &in_flight {
        let ended = r.scheduled + r.latency;
        assert!(
            r.outcome == Outcome::Error(502) && ended >= ms(3000) && ended <= ms(3010),
            "{r:?} should fail at the kill (3s)\n{}",
            timeline(&record)
        );
    }
    // Sent while down: front's 250ms call timeout.
    let dead = window(&record, 3000, 3750);
    assert_all(&record, &dead, &Outcome::Error(502), "while killed");
    assert!(min_latency(&dead) >= ms(250), "{}", timeline(&record));
    assert_all(&record, &window(&record, 4250, 6000), &Outcome::Ok, "after");
}

// ---------------------------------------------------------------- restart

/// A restart loses the work in flight (back works 100ms; the requests it was
/// working on when it restarted fail at once), then the instance serves again
/// right away.
#[test]
fn restart_loses_in_flight_work_and_serves_again_at_once() {
    let text = topology(
        "6s",
        "400ms",
        &call_back("250ms"),
        1,
        r#"
[[faults]]
kind = "restart"
target = "back-1"
at = "3s"
"#,
    )
    .replace(
        "[services.back.endpoints.\"/\"]\nwork = \"1ms\"",
        "[services.back.endpoints.\"/\"]\nwork = \"100ms\"",
    );
    let record = run(&parse(&text));
    // Instantaneous: healed as it is applied.
    assert_eq!(record.faults[0].start, ms(3000));
    assert_eq!(record.faults[0].end, Some(ms(3000)));

    assert_all(&record, &window(&record, 0, 2890), &Outcome::Ok, "before");
    // In flight on back at 3s (sent ~2.9s..3.0s): the restart loses them; they
    // end at the restart, well before back's 100ms of work or front's 250ms
    // timeout would.
    let lost = window(&record, 2905, 2995);
    assert!(!lost.is_empty());
    for r in &lost {
        assert_ne!(r.outcome, Outcome::Ok, "{r:?}\n{}", timeline(&record));
        let ended = r.scheduled + r.latency;
        assert!(
            ended >= ms(3000) && ended <= ms(3010),
            "{r:?} should end at the restart\n{}",
            timeline(&record)
        );
    }
    // Serves again right after: requests sent from just after 3s are fine,
    // with the usual latency (100ms of work plus a few ms).
    let after = window(&record, 3010, 6000);
    assert_all(&record, &after, &Outcome::Ok, "after the restart");
    assert!(max_latency(&after) <= ms(110), "{}", timeline(&record));
}

// ------------------------------------------------------------------ pause

/// A paused instance is frozen: requests sent to it during the pause are
/// parked and all complete right after the heal; none is lost when the
/// deadline outlasts the pause.
#[test]
fn pause_parks_requests_until_the_heal_and_loses_none() {
    let text = topology(
        "6s",
        "2s",
        "",
        1,
        r#"
[[faults]]
kind = "pause"
target = "front-1"
at = "2s"
for = "1s"
"#,
    );
    let record = run(&parse(&text));
    let all = window(&record, 0, 6000);
    assert_all(&record, &all, &Outcome::Ok, "whole run");
    assert_eq!(received(&record, "front", "front-1"), all.len() as u64);

    let before = window(&record, 0, 2000);
    assert!(max_latency(&before) <= ms(5), "{}", timeline(&record));
    // Sent during the pause: answered just after it heals at 3s.
    let paused = window(&record, 2000, 3000);
    for r in &paused {
        let answered = r.scheduled + r.latency;
        assert!(
            answered >= ms(3000) && answered <= ms(3010),
            "{r:?} should be answered right after the heal at 3s\n{}",
            timeline(&record)
        );
    }
    let after = window(&record, 3020, 6000);
    assert!(max_latency(&after) <= ms(5), "{}", timeline(&record));
}

/// With a deadline shorter than the pause, requests sent early in the pause
/// time out; the ones sent within a deadline of the heal still complete late.
#[test]
fn pause_longer_than_the_deadline_times_out() {
    let text = topology(
        "6s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "pause"
target = "front-1"
at = "2s"
for = "1s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 2000), &Outcome::Ok, "before");
    assert_all(
        &record,
        &window(&record, 2000, 2690),
        &Outcome::Timeout,
        "paused, more than a deadline before the heal",
    );
    let late = window(&record, 2710, 3000);
    assert_all(
        &record,
        &late,
        &Outcome::Ok,
        "paused, within a deadline of the heal",
    );
    assert!(late.iter().all(|r| r.scheduled + r.latency >= ms(3000)));
    assert_all(&record, &window(&record, 3000, 6000), &Outcome::Ok, "after");
}

// ---------------------------------------------------------------- latency

/// A latency fault on an instance: a round trip through it gains `delay`.
fn latency_gain(calls: &str, scope: &str) -> (Duration, Duration, RunRecord) {
    let text = topology(
        "8s",
        "500ms",
        calls,
        1,
        &format!(
            r#"
[[faults]]
kind = "latency"
{scope}
delay = "50ms"
at = "3s"
for = "3s"
"#
        ),
    );
    let record = run(&parse(&text));
    let mut outside = window(&record, 0, 3000);
    outside.extend(window(&record, 6500, 8000));
    let inside = window(&record, 3500, 5500);
    let all = window(&record, 0, 8000);
    assert_all(&record, &all, &Outcome::Ok, "whole run");
    (median(&outside), median(&inside), record)
}

#[test]
fn latency_on_an_instance_adds_delay_to_each_round_trip() {
    let (outside, inside, record) = latency_gain("", r#"target = "front-1""#);
    let gain = inside.saturating_sub(outside);
    // Half the delay each way: one request/response round trip gains 50ms,
    // within a tick (1ms) of base latency jitter.
    assert!(
        gain >= ms(49) && gain <= ms(51),
        "median {outside:?} outside, {inside:?} inside: gain {gain:?}\n{}",
        timeline(&record)
    );
    // Healed: back to the baseline.
    let after = window(&record, 6500, 8000);
    assert!(max_latency(&after) <= ms(5), "{}", timeline(&record));
}

#[test]
fn latency_between_two_services_slows_only_that_link() {
    // front calls back: the front<->back round trip gains 50ms.
    let between = r#"between = ["front", "back"]"#;
    let (outside, inside, record) = latency_gain(&call_back("400ms"), between);
    let gain = inside.saturating_sub(outside);
    assert!(
        gain >= ms(49) && gain <= ms(51),
        "front->back: median {outside:?} outside, {inside:?} inside: gain {gain:?}\n{}",
        timeline(&record)
    );
    // front calls nobody: the workload->front link is untouched.
    let (outside, inside, record) = latency_gain("", between);
    assert!(
        inside <= outside + ms(1) && max_latency(&window(&record, 3000, 6000)) <= ms(5),
        "workload->front: median {outside:?} outside, {inside:?} inside\n{}",
        timeline(&record)
    );
}

/// `jitter` spreads the delay: each way gains between delay/2 and
/// (delay + jitter)/2, so a round trip gains between 50 and 70ms (+ base).
/// Observed: 51ms..73ms.
#[test]
fn latency_jitter_spreads_the_delay() {
    let text = topology(
        "6s",
        "500ms",
        "",
        1,
        r#"
[[faults]]
kind = "latency"
target = "front-1"
delay = "50ms"
jitter = "20ms"
at = "2s"
for = "3s"
"#,
    );
    let record = run(&parse(&text));
    let inside = window(&record, 2500, 4500);
    assert_all(&record, &inside, &Outcome::Ok, "during");
    // Each way: base 0..1ms + 25ms + 0..10ms; plus 1ms of work.
    let (lo, hi) = (min_latency(&inside), max_latency(&inside));
    assert!(
        lo >= ms(50) && hi <= ms(74) && hi - lo >= ms(10),
        "latency during the fault {lo:?}..{hi:?}\n{}",
        timeline(&record)
    );
}

// -------------------------------------------------------------- partition

fn partition_run(between: &str, direction: &str) -> RunRecord {
    let text = topology(
        "7s",
        "300ms",
        &call_back("100ms"),
        1,
        &format!(
            r#"
[[faults]]
kind = "partition"
between = {between}
{direction}
at = "2s"
for = "3s"
"#
        ),
    );
    run(&parse(&text))
}

/// Common to every cut of front from back: 502s while cut, all ok outside.
#[track_caller]
fn assert_cut_2s_to_5s(record: &RunRecord) {
    assert_all(record, &window(record, 0, 1900), &Outcome::Ok, "before");
    assert_all(
        record,
        &window(record, 2000, 4900),
        &Outcome::Error(502),
        "while cut",
    );
    assert_all(record, &window(record, 5100, 7000), &Outcome::Ok, "after");
}

#[test]
fn partition_both_ways_cuts_the_link_until_healed() {
    let record = partition_run(r#"[["front"], ["back"]]"#, "");
    assert_eq!(record.faults[0].targets, ["front-1<->back-1"]);
    assert_cut_2s_to_5s(&record);
    let ok = count(&window(&record, 0, 7000), &Outcome::Ok) as u64;
    let got = received(&record, "back", "back-1");
    assert!(got <= ok + 1, "back-1 received {got}, ok {ok}");
}

/// Side 1 -> side 2 cut: front's calls never reach back.
#[test]
fn partition_one_way_front_to_back_stops_requests() {
    let record = partition_run(r#"[["front"], ["back"]]"#, r#"direction = "one-way""#);
    assert_eq!(record.faults[0].targets, ["front-1->back-1"]);
    assert_cut_2s_to_5s(&record);
    // back's count does not grow during the cut: it got exactly the calls of
    // the requests that succeeded (give or take one at the edge).
    let ok = count(&window(&record, 0, 7000), &Outcome::Ok) as u64;
    let got = received(&record, "back", "back-1");
    assert!(
        got <= ok + 1,
        "back-1 received {got}, ok {ok}\n{}",
        timeline(&record)
    );
}

/// Side 1 -> side 2 cut with back on side 1: front's calls reach back, its
/// answers are lost, so front's call times out (100ms) and it answers 502.
#[test]
fn partition_one_way_back_to_front_loses_the_answers() {
    let record = partition_run(r#"[["back"], ["front"]]"#, r#"direction = "one-way""#);
    assert_eq!(record.faults[0].targets, ["back-1->front-1"]);
    assert_cut_2s_to_5s(&record);
    let cut = window(&record, 2000, 4900);
    assert!(
        min_latency(&cut) >= ms(100),
        "the 502s come from front's call timeout\n{}",
        timeline(&record)
    );
    // Every request reached back, cut or not.
    let total = record.requests.len() as u64;
    let got = received(&record, "back", "back-1");
    assert_eq!(got, total, "{}", timeline(&record));
}

/// A partition drops packets, so it is silent, like a kill: a connection
/// attempt across it is neither accepted nor refused, and the caller waits
/// for its own timeout (as with a DROP rule on a real network, and as the
/// docker backend behaves). Here: front's 100ms call timeout, then 502; and a
/// workload cut from front by `isolate` sees timeouts, not failures.
///
/// turmoil 0.7.2 drops the SYN with the oneshot that would complete the
/// handshake, so `TcpStream::connect` returns ConnectionRefused at once; the
/// fixture's sim transport turns that refusal into a wait
/// (`fixtures/src/transport.rs`, docs/simulator.md), which this test pins.
#[test]
fn partitions_are_silent_callers_wait_for_their_timeout() {
    for (between, direction) in [
        (r#"[["front"], ["back"]]"#, ""),
        (r#"[["front"], ["back"]]"#, r#"direction = "one-way""#),
    ] {
        let record = partition_run(between, direction);
        let cut = window(&record, 2000, 4900);
        assert!(
            min_latency(&cut) >= ms(100),
            "partition {between} {direction}: 502s after {:?}..{:?} (median {:?}); \
             front's call should wait for its 100ms timeout\n{}",
            min_latency(&cut),
            max_latency(&cut),
            median(&cut),
            timeline(&record)
        );
    }
    let text = topology(
        "6s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "isolate"
target = "front-1"
at = "2s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(
        &record,
        &window(&record, 2000, 3700),
        &Outcome::Timeout,
        "front isolated: silence, so the workload's deadline",
    );
}

// ---------------------------------------------------------------- isolate

/// An isolated instance is cut from everyone: back-1 isolated -> front's
/// calls fail (502); front-1 isolated -> the workload itself cannot reach it.
#[test]
fn isolate_cuts_an_instance_from_everyone_the_workload_included() {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        1,
        r#"
[[faults]]
kind = "isolate"
target = "back-1"
at = "1s"
for = "2s"

[[faults]]
kind = "isolate"
target = "front-1"
at = "4s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 900), &Outcome::Ok, "before");
    assert_all(
        &record,
        &window(&record, 1000, 2900),
        &Outcome::Error(502),
        "back isolated",
    );
    assert_all(
        &record,
        &window(&record, 3100, 3900),
        &Outcome::Ok,
        "between the faults",
    );
    let front_cut = window(&record, 4000, 5700);
    assert_eq!(
        count(&front_cut, &Outcome::Ok) + count(&front_cut, &Outcome::Error(502)),
        0,
        "front isolated: nothing reaches it, so it answers nothing\n{}",
        timeline(&record)
    );
    assert_all(&record, &window(&record, 6300, 8000), &Outcome::Ok, "after");
    // back got a call for every ok request and none while either was cut.
    let ok = count(&window(&record, 0, 8000), &Outcome::Ok) as u64;
    let got = received(&record, "back", "back-1");
    assert!(got <= ok + 1, "back-1 received {got}, ok {ok}");
}

// ------------------------------------------------------------------ error

fn error_run(seed: Option<u64>) -> RunRecord {
    let text = topology(
        "6s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "error"
target = "front-1"
status = 503
rate = 0.5
at = "2s"
for = "2s"
"#,
    )
    .replace("rate = 100\n", "rate = 200\n");
    run_with(
        &parse(&text),
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    )
}

#[test]
fn error_answers_the_status_to_about_the_rate_of_requests() {
    let record = error_run(None);
    assert_all(&record, &window(&record, 0, 2000), &Outcome::Ok, "before");
    assert_all(&record, &window(&record, 4010, 6000), &Outcome::Ok, "after");
    let during = window(&record, 2010, 3990);
    let errors = count(&during, &Outcome::Error(503));
    assert_eq!(
        errors + count(&during, &Outcome::Ok),
        during.len(),
        "{:?}",
        tally(&during)
    );
    // 396 requests at p = 0.5: mean 198, sd ~10; +-5 sd.
    let n = during.len();
    assert!(
        (n / 2 - 50..=n / 2 + 50).contains(&errors),
        "{errors} of {n} answered 503"
    );
    // Injected errors answer at once, before any work.
    assert!(during
        .iter()
        .filter(|r| r.outcome == Outcome::Error(503))
        .all(|r| r.latency <= ms(3)));

    // Deterministic: the same seed draws the same requests.
    let again = error_run(None);
    assert_eq!(record.requests, again.requests);
    // ... and another seed other ones, at about the same rate.
    let other = error_run(Some(2));
    let other_errors = count(&window(&other, 2010, 3990), &Outcome::Error(503));
    assert_ne!(record.requests, other.requests);
    assert!((n / 2 - 50..=n / 2 + 50).contains(&other_errors));
    eprintln!("error: {errors} of {n} answered 503 (seed 1), {other_errors} (seed 2)");
}

// ------------------------------------------------------------ overlapping

/// Two partitions of the same link, 2s..4s and 3s..6s: healing the first at
/// 4s keeps the link cut until the second heals at 6s.
#[test]
fn overlapping_partitions_keep_the_link_cut_until_the_last_heals() {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        1,
        r#"
[[faults]]
kind = "partition"
between = [["front"], ["back"]]
at = "2s"
for = "2s"

[[faults]]
kind = "partition"
between = [["back"], ["front"]]
at = "3s"
for = "3s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 1900), &Outcome::Ok, "before");
    assert_all(
        &record,
        &window(&record, 2000, 5900),
        &Outcome::Error(502),
        "cut by either partition",
    );
    assert_all(&record, &window(&record, 6100, 8000), &Outcome::Ok, "after");
}

/// A pause (2s..4s) overlapping a partition (3s..5s) of the same link:
/// releasing the pause keeps the partition; healing both restores the link.
#[test]
fn pause_overlapping_a_partition_keeps_the_cut_after_the_pause_heals() {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        1,
        r#"
[[faults]]
kind = "pause"
target = "back-1"
at = "2s"
for = "2s"

[[faults]]
kind = "partition"
between = [["front"], ["back"]]
at = "3s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 1900), &Outcome::Ok, "before");
    assert_all(
        &record,
        &window(&record, 2000, 4900),
        &Outcome::Error(502),
        "paused, then cut",
    );
    assert_all(&record, &window(&record, 5100, 8000), &Outcome::Ok, "after");
    // Nothing parked during the pause or sent while cut reaches back when
    // the pause is released: back got exactly the calls of the ok requests.
    let ok = count(&window(&record, 0, 8000), &Outcome::Ok) as u64;
    let got = received(&record, "back", "back-1");
    assert!(
        got <= ok + 1,
        "back-1 received {got}, ok {ok}\n{}",
        timeline(&record)
    );
}

/// The same two faults, the other way round: partition 2s..4s, pause 3s..5s.
#[test]
fn partition_overlapping_a_pause_keeps_the_freeze_after_the_cut_heals() {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        1,
        r#"
[[faults]]
kind = "partition"
between = [["front"], ["back"]]
at = "2s"
for = "2s"

[[faults]]
kind = "pause"
target = "back-1"
at = "3s"
for = "2s"
"#,
    );
    let record = run(&parse(&text));
    assert_all(&record, &window(&record, 0, 1900), &Outcome::Ok, "before");
    assert_all(
        &record,
        &window(&record, 2000, 4900),
        &Outcome::Error(502),
        "cut, then paused",
    );
    assert_all(&record, &window(&record, 5100, 8000), &Outcome::Ok, "after");
}

// ---------------------------------------------------------- seeded target

fn picked(seed: u64) -> (Vec<String>, RunRecord) {
    let text = topology(
        "8s",
        "300ms",
        &call_back("100ms"),
        3,
        r#"
[[faults]]
kind = "kill"
target = "back:1"
at = "500ms"
"#,
    );
    let record = run_with(
        &parse(&text),
        &RunOptions {
            seed: Some(seed),
            duration: Some(ms(2000)),
            ..RunOptions::default()
        },
    );
    (record.faults[0].targets.clone(), record)
}

/// `back:1` picks one of back's replicas from the seed: the same seed picks
/// the same one, and it is the one that is actually killed.
#[test]
fn seeded_target_picks_the_same_instance_for_the_same_seed() {
    let (first, record) = picked(1);
    let (again, _) = picked(1);
    assert_eq!(first.len(), 1);
    assert_eq!(first, again);
    let differs = (2..=20).find(|s| picked(*s).0 != first);
    assert!(differs.is_some(), "seeds 1..=20 all pick {first:?}");
    eprintln!(
        "seed 1 picks {first:?}; seed {} picks {:?}",
        differs.unwrap(),
        picked(differs.unwrap()).0
    );

    // The picked instance is the one killed: after 0.5s (+ a call timeout)
    // it gets nothing, while the other two keep getting a third of the calls.
    let counts = &record.received["back"];
    let victim = counts[&first[0]];
    for (name, n) in counts {
        if *name != first[0] {
            assert!(
                *n > victim + 40,
                "{name} got {n}, the killed {} got {victim}\n{}",
                first[0],
                timeline(&record)
            );
        }
    }
    // Round robin sends every third call to the dead one: those fail (502).
    let after = window(&record, 700, 2000);
    let failed = count(&after, &Outcome::Error(502));
    assert!(
        failed * 3 >= after.len() - 3 && failed * 3 <= after.len() + 3,
        "{:?}",
        tally(&after)
    );
}

// ------------------------------------------------------------------- loss

#[test]
fn loss_is_refused_by_the_simulator() {
    let text = topology(
        "6s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "loss"
target = "front-1"
rate = 0.05
at = "1s"
for = "1s"
"#,
    );
    let scenario = parse(&text);
    match squall::sim::run(&scenario, &RunOptions::default()) {
        Err(error @ RunError::Unsupported(_)) => {
            let message = error.to_string();
            assert!(message.contains("retransmission"), "{message}");
            assert!(message.contains("`loss`"), "{message}");
            assert_eq!(error.exit_code(), 2);
        }
        Err(other) => panic!("expected Unsupported, got {other:?}"),
        Ok(_) => panic!("a loss fault ran in the simulator"),
    }
}

// -------------------------------------------------------------- duration

/// `--duration` shorter than the scenario: faults that start after it are
/// left out, a fault that would heal after it lasts to the end.
#[test]
fn shorter_duration_drops_later_faults_and_leaves_open_ones_unhealed() {
    let text = topology(
        "8s",
        "300ms",
        "",
        1,
        r#"
[[faults]]
kind = "latency"
target = "front-1"
delay = "20ms"
at = "1s"
for = "1s"

[[faults]]
kind = "kill"
target = "front-1"
at = "3s"
for = "4s"

[[faults]]
kind = "pause"
target = "front-1"
at = "5s"
for = "1s"
"#,
    );
    let record = run_with(
        &parse(&text),
        &RunOptions {
            duration: Some(ms(4000)),
            ..RunOptions::default()
        },
    );
    assert_eq!(record.duration, ms(4000));
    assert_eq!(record.requests.len(), 400);
    assert!(record.requests.iter().all(|r| r.scheduled < ms(4000)));
    let faults: Vec<(usize, &str, Duration, Option<Duration>)> = record
        .faults
        .iter()
        .map(|f| (f.index, f.kind.as_str(), f.start, f.end))
        .collect();
    assert_eq!(
        faults,
        [
            (0, "latency", ms(1000), Some(ms(2000))),
            (1, "kill", ms(3000), None),
        ]
    );
    // The kill is still applied to the end of the shortened run.
    assert_all(
        &record,
        &window(&record, 3000, 4000),
        &Outcome::Timeout,
        "killed to the end",
    );
}

// ------------------------------------------------------------ determinism

fn busy(seed: Option<u64>) -> RunRecord {
    let text = r#"
duration = "5s"
seed = 3

[workload]
target = "front"
path = "/"
rate = 150
arrival = "poisson"
deadline = "300ms"
warmup = "1s"

[services.front]
balancer = "random"
[services.front.endpoints."/"]
work = { mean = "2ms" }
calls = [{ to = "back", path = "/", timeout = "50ms", retries = 1, backoff = "5ms" }]

[services.back]
replicas = 3
[services.back.endpoints."/"]
work = { p50 = "2ms", p99 = "40ms" }

[[faults]]
kind = "latency"
target = "back:1"
delay = "30ms"
jitter = "10ms"
at = "2s"
for = "2s"
"#;
    run_with(
        &parse(text),
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    )
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let a = busy(None);
    let b = busy(None);
    assert_eq!(a.requests, b.requests);
    assert_eq!(a.received, b.received);
    assert_eq!(a.faults, b.faults);
    let c = busy(Some(4));
    assert_ne!(a.requests, c.requests);
    let scheduled = |r: &RunRecord| r.requests.iter().map(|x| x.scheduled).collect::<Vec<_>>();
    assert_ne!(
        scheduled(&a),
        scheduled(&c),
        "poisson arrivals follow the seed"
    );
    assert_ne!(
        a.received, c.received,
        "the random balancer follows the seed"
    );
}

// -------------------------------------------------------------- exemplars

/// The first failures of each kind per phase are the same requests with the
/// same traces whether the figures were streamed during the run (the
/// simulator) or worked out from the whole record (Docker): here timeouts
/// (a paused `back-1`, whose calls the callers cancel) and two error
/// statuses (503 injected at `front-1`, 502 for the 500 injected at
/// `back-2`), three of each kept.
#[test]
fn first_failures_are_the_same_streamed_or_from_the_whole_record() {
    let text = topology(
        "6s",
        "300ms",
        &call_back("1s"),
        2,
        r#"
[[faults]]
kind = "pause"
target = "back-1"
at = "1500ms"
for = "1s"

[[faults]]
kind = "error"
target = "front-1"
status = 503
rate = 0.3
at = "3500ms"
for = "1s"

[[faults]]
kind = "error"
target = "back-2"
status = 500
rate = 0.3
at = "3500ms"
for = "1s"
"#,
    );
    let scenario = parse(&text);
    let record = run(&scenario);
    let streamed = squall::report::Report::build(&scenario, &record, Vec::new());
    let mut whole = record.clone();
    whole.figures = None;
    let of_record = squall::report::Report::build(&scenario, &whole, Vec::new());

    let faults = &streamed.first_failures["faults"].0;
    let kinds: Vec<&str> = faults.keys().map(String::as_str).collect();
    assert!(
        kinds.contains(&"timeout"),
        "{kinds:?}\n{}",
        timeline(&record)
    );
    assert!(
        kinds.iter().filter(|k| k.starts_with("error ")).count() >= 2,
        "{kinds:?}"
    );
    for traces in faults.values() {
        assert_eq!(traces.len(), 3, "{traces:?}");
    }
    let json = |r: &squall::report::Report| {
        serde_json::to_string_pretty(&(&r.slowest, &r.first_failures)).unwrap_or_default()
    };
    assert_eq!(json(&streamed), json(&of_record));
}
