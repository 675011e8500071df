//! `squall check`: every finding kind on a small scenario, the figures for
//! the example scenarios computed by hand, the command line, and for each
//! error kind a simulator run that shows the harm the finding predicts.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use squall::check::{analyse, CheckOptions, Finding, FindingKind, Severity};
use squall::engine::RunOptions;
use squall::record::{Outcome, RunRecord};
use squall::scenario::{self, Scenario};

fn parse(text: &str) -> Scenario {
    scenario::parse(text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn check(text: &str) -> Vec<Finding> {
    analyse(&parse(text), &CheckOptions::default())
}

/// The one finding of `findings`, which must be of `kind`.
fn only(findings: &[Finding], kind: FindingKind) -> &Finding {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].kind, kind, "{findings:#?}");
    &findings[0]
}

fn simulate(text: &str) -> RunRecord {
    squall::sim::run(&parse(text), &RunOptions::default()).expect("the simulator runs it")
}

fn count(record: &RunRecord, f: impl Fn(&Outcome) -> bool) -> usize {
    record.requests.iter().filter(|r| f(&r.outcome)).count()
}

/// A front-end `a` with `a_calls` and its callees; `extra` is appended.
fn topology(deadline: &str, a_calls: &str, extra: &str) -> String {
    format!(
        r#"name = "t"
duration = "3s"
seed = 11

[workload]
target = "a"
path = "/"
rate = 20
deadline = "{deadline}"

[services.a.endpoints."/"]
work = "1ms"
calls = [ {a_calls} ]

{extra}
"#
    )
}

/// Service `name` with 3 replicas, 1ms of work and `calls`.
fn service(name: &str, calls: &str) -> String {
    format!(
        "[services.{name}]\nreplicas = 3\n[services.{name}.endpoints.\"/\"]\nwork = \"1ms\"\ncalls = [ {calls} ]\n"
    )
}

/// Every reply from `service` delayed by `delay`, for the whole run.
fn slow(service: &str, delay: &str) -> String {
    format!(
        "[[faults]]\nkind = \"latency\"\ntarget = \"{service}\"\ndelay = \"{delay}\"\nat = \"0s\"\n"
    )
}

// ---------------------------------------------------------------- inverted timeout

/// a gives b `a_timeout` per attempt; b tries c for 50ms, then retries once
/// (after at most 5ms) on the other replica: b's worst case is 1 + 2 × 50 + 5
/// = 106ms. The fault: c-1 turns slow (200ms per round trip), c-2 stays fast.
fn inverted_scenario(a_timeout: &str) -> String {
    topology(
        "1s",
        &format!(r#"{{ to = "b", path = "/", timeout = "{a_timeout}" }}"#),
        &(service(
            "b",
            r#"{ to = "c", path = "/", timeout = "50ms", retries = 1, backoff = "5ms" }"#,
        ) + &service("c", "").replace("replicas = 3", "replicas = 2")
            + &slow("c-1", "200ms")),
    )
}

#[test]
fn inverted_timeout_names_both_figures_and_a_fix() {
    let findings = check(&inverted_scenario("45ms"));
    let f = only(&findings, FindingKind::InvertedTimeout);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, ["a", "b"]);
    assert_eq!(
        f.message,
        "b / worst case 106ms (work 1ms + c 50ms × 2 attempts = 100ms + 5ms backoff) \
         exceeds the 45ms a allows it per attempt"
    );
    // Room for c: 45 - 1 = 44ms; (44 - 5) / 2 = 19.5 -> 19ms; 1 attempt of 50ms does not fit.
    assert_eq!(
        f.fix,
        "c may take at most 44ms in all here: lower b's timeout for c to 19ms × 2 attempts, \
         or make 1 attempt of 44ms; or raise a's timeout for b to 106ms; or set \
         propagate_deadline = true on a and b (and every service below)"
    );
    // With a's timeout above b's worst case, the check is clean.
    assert_eq!(check(&inverted_scenario("110ms")), []);
}

/// The harm: when b's first attempt lands on the slow c-1, a gives up at 45ms,
/// before b's retry on the healthy c-2 (from 52.5ms on) can answer, and the
/// request fails although the retry would have saved it. (In the fixture a
/// caller's give-up cancels the callee's handler, so b's retry is never even
/// sent.) With a's timeout above b's worst case, every request succeeds.
#[test]
fn inverted_timeout_in_the_simulator_the_caller_gives_up_before_the_retry() {
    let record = simulate(&inverted_scenario("45ms"));
    let requests = record.requests.len();
    assert!(requests >= 50, "{requests}");
    let failed = count(&record, |o| *o == Outcome::Error(502));
    let ok = count(&record, |o| *o == Outcome::Ok);
    assert_eq!(failed + ok, requests);
    // Round robin sends about half of b's first attempts to c-1.
    assert!(failed * 3 >= requests, "{failed} of {requests} failed");

    let clean = simulate(&inverted_scenario("110ms"));
    assert_eq!(count(&clean, |o| *o == Outcome::Ok), clean.requests.len());
    // There, c-2 answered the retries: c-1 got the first attempts only.
    assert!(clean.received["c"]["c-2"] > clean.received["c"]["c-1"]);
}

// ---------------------------------------------------------------- deadline

/// a retries b twice at 80ms a try: 271ms worst case for a 100ms deadline.
fn deadline_scenario(retries: u32) -> String {
    topology(
        "100ms",
        &format!(
            r#"{{ to = "b", path = "/", timeout = "80ms", retries = {retries}, backoff = "10ms" }}"#
        ),
        &(service("b", "") + &slow("b", "200ms")),
    )
}

#[test]
fn deadline_exceeded_names_the_entry_and_its_sum() {
    let findings = check(&deadline_scenario(2));
    let f = only(&findings, FindingKind::DeadlineExceeded);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, ["a"]);
    assert_eq!(
        f.message,
        "a / worst case 271ms (work 1ms + b 80ms × 3 attempts = 240ms + 30ms backoff) \
         exceeds the workload's 100ms deadline"
    );
    // Room: 99ms; (99 - 30) / 3 = 23ms; 1 attempt of 80ms fits.
    assert!(
        f.fix.starts_with(
            "b may take at most 99ms in all here: lower a's timeout for b to 23ms × 3 attempts, \
             or keep 80ms with 1 attempt"
        ),
        "{}",
        f.fix
    );
    // Without retries it fits (81ms), and the check is clean.
    assert_eq!(check(&deadline_scenario(0)), []);
}

/// The harm: with b slow, a's retries outlast the deadline and every request
/// times out at the workload; without the retries (the clean variant), the
/// same fault gives a fast error instead.
#[test]
fn deadline_exceeded_in_the_simulator_requests_time_out() {
    let record = simulate(&deadline_scenario(2));
    let requests = record.requests.len();
    assert!(requests >= 50, "{requests}");
    assert_eq!(count(&record, |o| *o == Outcome::Timeout), requests);

    let clean = simulate(&deadline_scenario(0));
    assert_eq!(count(&clean, |o| *o == Outcome::Timeout), 0);
    assert_eq!(
        count(&clean, |o| *o == Outcome::Error(502)),
        clean.requests.len()
    );
}

// ---------------------------------------------------------------- missing timeout

fn missing_timeout_scenario(timeout: &str) -> String {
    topology(
        "100ms",
        &format!(r#"{{ to = "b", path = "/", required = false {timeout} }}"#),
        &(service("b", "") + &slow("b", "300ms")),
    )
}

#[test]
fn missing_timeout_is_an_error_even_on_an_optional_call() {
    let findings = check(&missing_timeout_scenario(""));
    let f = only(&findings, FindingKind::MissingTimeout);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, ["a", "b"]);
    assert_eq!(
        f.message,
        "a calls b / without a timeout (optional, 1 attempt)"
    );
    assert!(f.why.contains("cannot degrade"), "{}", f.why);
    // b's worst case is its 1ms of work: suggest twice that.
    assert!(
        f.fix.contains("above b's worst case 1ms (say 2ms)"),
        "{}",
        f.fix
    );
    assert_eq!(
        check(&missing_timeout_scenario(r#", timeout = "20ms""#)),
        []
    );
}

/// Only the source is reported: the unbounded call makes every budget above
/// it unknown, and those are not flagged again.
#[test]
fn missing_timeout_is_reported_once_at_its_source() {
    let text = topology(
        "100ms",
        r#"{ to = "b", path = "/", timeout = "50ms" }"#,
        &(service("b", r#"{ to = "c", path = "/" }"#) + &service("c", "")),
    );
    let findings = check(&text);
    let f = only(&findings, FindingKind::MissingTimeout);
    assert_eq!(f.path, ["a", "b", "c"]);
    assert_eq!(
        f.message,
        "b calls c / without a timeout (required, 1 attempt)"
    );
}

/// The harm: a waits for b as long as b takes, so the optional call never
/// degrades the answer and every request times out; with a timeout, the same
/// fault gives degraded answers in time.
#[test]
fn missing_timeout_in_the_simulator_the_answer_hangs_instead_of_degrading() {
    let record = simulate(&missing_timeout_scenario(""));
    let requests = record.requests.len();
    assert!(requests >= 50, "{requests}");
    assert_eq!(count(&record, |o| *o == Outcome::Timeout), requests);

    let clean = simulate(&missing_timeout_scenario(r#", timeout = "20ms""#));
    assert_eq!(
        count(&clean, |o| matches!(o, Outcome::Degraded(_))),
        clean.requests.len()
    );
}

// ---------------------------------------------------------------- amplification

/// a -> b -> c, 4 attempts on each hop: 16 calls on c per request. Timeouts
/// fit (b: 1 + 4 × 40 + 7 = 168ms < 200ms; a: 808ms < 1s), so amplification
/// is the only finding. The fault: c's round trips take 50ms more, so each
/// attempt reaches c (25ms one way) and times out before the answer (50ms).
fn amplification_scenario(budget: &str) -> String {
    amplification_budgets(budget, budget)
}

/// As [`amplification_scenario`], with a budget clause per hop.
fn amplification_budgets(a_budget: &str, b_budget: &str) -> String {
    topology(
        "1s",
        &format!(
            r#"{{ to = "b", path = "/", timeout = "200ms", retries = 3, backoff = "1ms" {a_budget} }}"#
        ),
        &(service(
            "b",
            &format!(
                r#"{{ to = "c", path = "/", timeout = "40ms", retries = 3, backoff = "1ms" {b_budget} }}"#
            ),
        ) + &service("c", "")
            + &slow("c", "50ms")),
    )
}

#[test]
fn amplification_without_a_budget_is_an_error_with_the_product() {
    let findings = check(&amplification_scenario(""));
    let f = only(&findings, FindingKind::RetryAmplification);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.path, ["a", "b", "c"]);
    assert_eq!(
        f.message,
        "up to 16 calls reach c per request (4 × 4 attempts on a -> b, b -> c), above the bound of 10"
    );
    assert_eq!(
        f.fix,
        "retry at one layer only: keep the retries on b -> c and set retries = 0 on a -> b \
         (4 calls per request), or give every retrying call retry_budget = 0.1 (caps it at 1.21)"
    );
    // The bound is an option.
    let loose = CheckOptions {
        max_amplification: 16.0,
    };
    assert_eq!(analyse(&parse(&amplification_scenario("")), &loose), []);
}

#[test]
fn amplification_capped_by_retry_budgets_is_a_warning_with_the_cap() {
    let findings = check(&amplification_scenario(", retry_budget = 0.2"));
    let f = only(&findings, FindingKind::RetryAmplification);
    assert_eq!(f.severity, Severity::Warning);
    // 1.2 × 1.2 = 1.44.
    assert!(
        f.message
            .ends_with("above the bound of 10; retry budgets cap it at 1.44 in steady state"),
        "{}",
        f.message
    );
    // A budget on one hop only: 1.5 × 4 = 6, still above a bound of 5: an error.
    let text = amplification_budgets(", retry_budget = 0.5", "");
    let strict = CheckOptions {
        max_amplification: 5.0,
    };
    let findings = analyse(&parse(&text), &strict);
    let f = only(&findings, FindingKind::RetryAmplification);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message
            .ends_with("above the bound of 5; retry budgets cap it at 6 only"),
        "{}",
        f.message
    );
}

/// The harm: with c slow, every attempt on c times out, b fails, a retries b:
/// c receives close to the predicted 4 × 4 = 16 calls per request.
#[test]
fn amplification_in_the_simulator_reaches_the_predicted_product() {
    let record = simulate(&amplification_scenario(""));
    let requests = record.requests.len() as f64;
    assert!(requests >= 50.0, "{requests}");
    let on_b = record.calls_to("b") as f64 / requests;
    let on_c = record.calls_to("c") as f64 / requests;
    assert!(on_b > 3.9 && on_b <= 4.0, "b: {on_b:.2} calls per request");
    assert!(
        on_c > 15.5 && on_c <= 16.0,
        "c: {on_c:.2} calls per request"
    );
}

// ---------------------------------------------------------------- warnings

#[test]
fn hedge_without_budget_is_a_warning() {
    let text = topology(
        "200ms",
        r#"{ to = "b", path = "/", timeout = "30ms", hedge = "10ms" }"#,
        &service("b", ""),
    );
    let findings = check(&text);
    let f = only(&findings, FindingKind::HedgeWithoutBudget);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.path, ["a", "b"]);
    assert_eq!(
        f.message,
        "a hedges its calls to b / after 10ms without a retry_budget"
    );
    assert!(
        f.why.contains("hedges double load on a slow replica"),
        "{}",
        f.why
    );
    // With a budget, nothing to say.
    assert_eq!(
        check(&text.replace(r#"hedge = "10ms""#, r#"hedge = "10ms", retry_budget = 0.1"#)),
        []
    );
}

#[test]
fn a_hedge_adds_its_delay_to_each_attempt() {
    // (30 + 10) × 2 + 5 = 85ms, + 1ms work = 86ms > 80ms.
    let text = topology(
        "80ms",
        r#"{ to = "b", path = "/", timeout = "30ms", retries = 1, backoff = "5ms", hedge = "10ms", retry_budget = 0.1 }"#,
        &service("b", ""),
    );
    let findings = check(&text);
    let f = only(&findings, FindingKind::DeadlineExceeded);
    assert!(
        f.message.starts_with(
            "a / worst case 86ms (work 1ms + b (30ms + 10ms hedge) × 2 attempts = 80ms + 5ms backoff)"
        ),
        "{}",
        f.message
    );
}

#[test]
fn propagation_below_a_hop_that_does_not_forward_is_a_warning() {
    let text = topology(
        "200ms",
        r#"{ to = "b", path = "/", timeout = "50ms" }"#,
        &(service("b", r#"{ to = "c", path = "/", timeout = "20ms" }"#) + &service("c", ""))
            .replace(
                "[services.c]\n",
                "[services.c]\npropagate_deadline = true\n",
            ),
    );
    let findings = check(&text);
    let f = only(&findings, FindingKind::PropagationGap);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.path, ["a", "b", "c"]);
    assert_eq!(
        f.message,
        "c has propagate_deadline = true but its caller b does not forward a deadline"
    );
    assert!(f.why.contains("the deadline does not reach c"), "{}", f.why);
    // Forwarding on every hop above: nothing to say.
    let fixed = text
        .replace(
            "[services.b]\n",
            "[services.b]\npropagate_deadline = true\n",
        )
        .replace(
            "[services.a.endpoints",
            "[services.a]\npropagate_deadline = true\n[services.a.endpoints",
        );
    assert_eq!(check(&fixed), []);
}

/// deep-chain-deadline's shape: the timeouts do not fit as written, but every
/// hop propagates the deadline, so each answers before its caller gives up
/// (the simulator passes it). Only one propagating side is not enough.
#[test]
fn propagation_on_both_ends_cuts_deadline_and_inverted_timeouts() {
    let text = topology(
        "100ms",
        r#"{ to = "b", path = "/", timeout = "150ms" }"#,
        &service(
            "b",
            r#"{ to = "c", path = "/", timeout = "60ms", retries = 2 }"#,
        )
        .replace(
            "[services.b]\n",
            "[services.b]\npropagate_deadline = true\n",
        ),
    ) + &service("c", "").replace(
        "[services.c]\n",
        "[services.c]\npropagate_deadline = true\n",
    );
    // a does not propagate: the entry outlasts the deadline (1 + 150ms), b
    // outlasts a's 150ms (1 + 3 × 60ms) with nothing to cut it, and b's
    // propagation has nothing to propagate.
    let kinds: Vec<FindingKind> = check(&text).iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            FindingKind::DeadlineExceeded,
            FindingKind::InvertedTimeout,
            FindingKind::PropagationGap
        ],
        "{kinds:?}"
    );
    let fix = &check(&text)[0].fix;
    assert!(fix.contains("set propagate_deadline = true on a"), "{fix}");
    let all = text.replace(
        "[services.a.endpoints",
        "[services.a]\npropagate_deadline = true\n[services.a.endpoints",
    );
    assert_eq!(check(&all), []);
    let scenario = parse(&all);
    // 150ms + 2ms as written; cut to the deadline less the reserve.
    assert_eq!(
        squall::check::entry_bound(&scenario),
        Some(Duration::from_millis(100) - squall_fixture::deadline::RESERVE)
    );
}

/// With no retries anywhere, the peak names the first callee, not the entry.
#[test]
fn peak_amplification_names_the_callee() {
    let (peak, path) = squall::check::peak_amplification(&load("fail-fast-breaker.toml"));
    assert_eq!(peak, 1.0);
    assert_eq!(path.last().map(String::as_str), Some("ledger"));
    let (peak, path) = squall::check::peak_amplification(&load("retry-storm.toml"));
    assert_eq!((peak, path.last().map(String::as_str)), (64.0, Some("db")));
}

/// Every scenario file (regressions too) that expects to pass in the
/// simulator gets no error from `check`: the static analysis and the run
/// agree. One documented exception, checked exactly: overlap-weakness passes
/// its own fault, and `check` is right that its budget does not fit the
/// deadline (216ms for 150ms): that is the weakness `squall explore` finds.
#[test]
fn every_scenario_expected_to_pass_gets_no_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut passing = 0;
    for path in &files {
        let scenario = scenario::load(path).unwrap();
        if scenario.expect != scenario::Expect::Pass {
            continue;
        }
        passing += 1;
        let errors: Vec<Finding> = analyse(&scenario, &CheckOptions::default())
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        if scenario.name == "overlap-weakness" {
            let f = only(&errors, FindingKind::DeadlineExceeded);
            assert!(f.message.contains("worst case 216ms"), "{}", f.message);
            continue;
        }
        assert_eq!(errors, [], "{}", path.display());
    }
    assert!(passing >= 8, "only {passing} passing scenarios found");
}

// ---------------------------------------------------------------- three levels

/// The three-level topology of the unit test in check/budget.rs, as a file:
/// front (2ms) -> mid (100ms × 3, backoff 10ms); mid (p99 5ms) -> low (30ms ×
/// 2, 4ms) then side-a (20ms) and side-b (25ms × 2, 2ms) in parallel.
const THREE_LEVELS: &str = r#"
duration = "10s"
[workload]
target = "front"
path = "/"
rate = 10
deadline = "300ms"

[services.front.endpoints."/"]
work = "2ms"
calls = [ { to = "mid", path = "/m", timeout = "100ms", retries = 2, backoff = "10ms" } ]

[services.mid.endpoints."/m"]
work = { p50 = "1ms", p99 = "5ms" }
calls = [
  { to = "low", path = "/l", timeout = "30ms", retries = 1, backoff = "4ms" },
  { to = "side-a", path = "/s", timeout = "20ms", group = 1 },
  { to = "side-b", path = "/s", timeout = "25ms", retries = 1, backoff = "2ms", group = 1 },
]

[services.low.endpoints."/l"]
work = { mean = "2ms" }
[services.side-a.endpoints."/s"]
work = "1ms"
[services.side-b.endpoints."/s"]
work = "1ms"
"#;

#[test]
fn three_levels_match_the_hand_calculation() {
    let scenario = parse(THREE_LEVELS);
    // front: 2 + 3 × 100 + (10 + 20) = 332ms; mid: 5 + (2 × 30 + 4) + max(20, 2 × 25 + 2) = 121ms.
    assert_eq!(
        squall::check::entry_worst(&scenario),
        Some(Duration::from_millis(332))
    );
    let findings = analyse(&scenario, &CheckOptions::default());
    let messages: Vec<_> = findings
        .iter()
        .map(|f| (f.kind, f.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                FindingKind::DeadlineExceeded,
                "front / worst case 332ms (work 2ms + mid 100ms × 3 attempts = 300ms + 30ms backoff) \
                 exceeds the workload's 300ms deadline"
            ),
            (
                FindingKind::InvertedTimeout,
                "mid /m worst case 121ms (work 5ms + low 30ms × 2 attempts = 60ms + 4ms backoff + \
                 max(side-a 20ms, side-b 25ms × 2 attempts = 50ms + 2ms backoff)) exceeds the 100ms \
                 front allows it per attempt"
            ),
        ]
    );
    // 3 × 2 = 6 attempts reach low and side-b: under 10, over 5.
    assert_eq!(squall::check::peak_amplification(&scenario).0, 6.0);
    let strict = analyse(
        &scenario,
        &CheckOptions {
            max_amplification: 5.0,
        },
    );
    let amplified: Vec<_> = strict
        .iter()
        .filter(|f| f.kind == FindingKind::RetryAmplification)
        .map(|f| f.path.join(" -> "))
        .collect();
    assert_eq!(amplified, ["front -> mid -> low", "front -> mid -> side-b"]);
}

// ---------------------------------------------------------------- the example scenarios

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name);
    scenario::load(&path).unwrap()
}

/// retry-storm.toml, by hand: edge -> api (300ms × 4, 10ms), api -> core
/// (150ms × 4, 10ms), core -> db (40ms × 4, 10ms), 1ms of work each; backoff
/// for 3 retries is 10 + 20 + 40 = 70ms.
/// - core: 1 + 4 × 40 + 70 = 231ms > api's 150ms
/// - api: 1 + 4 × 150 + 70 = 671ms > edge's 300ms
/// - edge: 1 + 4 × 300 + 70 = 1271ms > the 200ms deadline
/// - db: 4 × 4 × 4 = 64 calls per request > 10
#[test]
fn retry_storm_is_flagged_with_its_paths_and_figures() {
    let findings = analyse(&load("retry-storm.toml"), &CheckOptions::default());
    let got: Vec<_> = findings
        .iter()
        .map(|f| (f.severity, f.kind, f.path.join(" -> "), f.message.as_str()))
        .collect();
    use FindingKind::*;
    use Severity::Error;
    assert_eq!(
        got,
        [
            (
                Error,
                DeadlineExceeded,
                "edge".to_owned(),
                "edge /checkout worst case 1.271s (work 1ms + api 300ms × 4 attempts = 1.2s + \
                 70ms backoff) exceeds the workload's 200ms deadline"
            ),
            (
                Error,
                InvertedTimeout,
                "edge -> api".to_owned(),
                "api /checkout worst case 671ms (work 1ms + core 150ms × 4 attempts = 600ms + \
                 70ms backoff) exceeds the 300ms edge allows it per attempt"
            ),
            (
                Error,
                InvertedTimeout,
                "edge -> api -> core".to_owned(),
                "core /charge worst case 231ms (work 1ms + db 40ms × 4 attempts = 160ms + 70ms \
                 backoff) exceeds the 150ms api allows it per attempt"
            ),
            (
                Error,
                RetryAmplification,
                "edge -> api -> core -> db".to_owned(),
                "up to 64 calls reach db per request (4 × 4 × 4 attempts on edge -> api, \
                 api -> core, core -> db), above the bound of 10"
            ),
        ]
    );
    // core -> db: room 150 - 1 = 149ms; (149 - 70) / 4 = 19.75 -> 19ms; 2 attempts: 80 + 10 = 90ms.
    assert_eq!(
        findings[2].fix,
        "db may take at most 149ms in all here: lower core's timeout for db to 19ms × 4 attempts, \
         or keep 40ms with 2 attempts; or raise api's timeout for core to 231ms; or set \
         propagate_deadline = true on api and core (and every service below)"
    );
}

/// card-auth: gateway 1 + 150 = 151ms <= 200ms; card-api 8 + (2 × 30 + 5) +
/// max(30, 20) = 103ms <= 150ms; ledger (mean 3ms, p99 13.8ms) <= 30ms, fraud
/// 12ms <= 30ms, merchant 2ms <= 20ms; 2 attempts at most. search-degrade:
/// search 10 + (2 × 50 + 2) + max(20, 20) = 132ms <= 200ms; index p99 18.4ms
/// <= 50ms; attachments p99 9.2ms <= 20ms.
#[test]
fn card_auth_and_search_degrade_are_clean() {
    for name in ["card-auth.toml", "search-degrade.toml"] {
        let scenario = load(name);
        assert_eq!(analyse(&scenario, &CheckOptions::default()), [], "{name}");
    }
    assert_eq!(
        squall::check::entry_worst(&load("card-auth.toml")),
        Some(Duration::from_millis(151))
    );
    assert_eq!(
        squall::check::entry_worst(&load("search-degrade.toml")),
        Some(Duration::from_millis(132))
    );
}

// ---------------------------------------------------------------- the command line

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("NO_COLOR", "1")
        .output()
        .expect("squall starts")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn check_exits_1_on_errors_and_0_when_clean() {
    let out = squall(&[
        "check",
        "scenarios/card-auth.toml",
        "scenarios/search-degrade.toml",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "       CLEAN  gateway /authorise worst case 151ms for a 200ms deadline; \
             at most 2 calls per request on ledger\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("     Summary  search-degrade: 0 errors, 0 warnings\n"),
        "{stdout}"
    );

    let out = squall(&[
        "check",
        "scenarios/card-auth.toml",
        "scenarios/retry-storm.toml",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches("       ERROR  ").count(), 4, "{stdout}");
    assert!(
        stdout.contains(
            "       ERROR  edge -> api -> core  core /charge worst case 231ms (work 1ms + db 40ms \
             × 4 attempts = 160ms + 70ms backoff) exceeds the 150ms api allows it per attempt\n\
             \x20             why: api gives up on an attempt"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("              fix: db may take at most 149ms"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "     Summary  retry-storm: 4 errors, 0 warnings (edge /checkout worst case 1.271s \
             for a 200ms deadline; at most 64 calls per request on db)"
        ),
        "{stdout}"
    );
    // Loosening the bound removes the amplification error only.
    let out = squall(&[
        "check",
        "scenarios/retry-storm.toml",
        "--max-amplification",
        "64",
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(stdout.matches("       ERROR  ").count(), 3, "{stdout}");
}

#[test]
fn check_json_has_the_findings_and_their_paths() {
    let out = squall(&[
        "check",
        "--json",
        "scenarios/retry-storm.toml",
        "scenarios/card-auth.toml",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["scenario"], "retry-storm");
    assert_eq!(files[0]["errors"], 4);
    assert_eq!(files[0]["entry_worst_ms"], 1271.0);
    assert_eq!(files[0]["peak_amplification"], 64.0);
    let findings = files[0]["findings"].as_array().unwrap();
    let paths: Vec<Vec<&str>> = findings
        .iter()
        .map(|f| {
            f["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        paths,
        [
            vec!["edge"],
            vec!["edge", "api"],
            vec!["edge", "api", "core"],
            vec!["edge", "api", "core", "db"],
        ]
    );
    assert_eq!(findings[1]["severity"], "error");
    assert_eq!(findings[1]["kind"], "inverted-timeout");
    assert!(findings[1]["why"].as_str().unwrap().contains("inverted"));
    assert!(findings[1]["fix"]
        .as_str()
        .unwrap()
        .contains("57ms × 4 attempts"));
    assert_eq!(files[1]["findings"].as_array().unwrap().len(), 0);
}

/// `check` validates the whole file: a typo in `[explore]` is exit 2 with its
/// location, as `squall explore` would report it.
#[test]
fn check_validates_the_explore_section() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/card-auth.toml"),
    )
    .unwrap();
    let (line, _) = body
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("kinds = "))
        .expect("card-auth has [explore] kinds");
    let bad = dir.path().join("card-auth.toml");
    std::fs::write(&bad, body.replacen("\"isolate\"", "\"isolat\"", 1)).unwrap();
    let out = squall(&["check", bad.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("card-auth.toml:{}:", line + 1))
            && stderr.contains("unknown fault kind `isolat`"),
        "{stderr}"
    );
}

#[test]
fn check_refuses_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        inverted_scenario("45ms").replace("rate = 20", "rate = = 20"),
    )
    .unwrap();
    // A bad file anywhere in the list: nothing is analysed.
    let out = squall(&["check", "scenarios/card-auth.toml", bad.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("bad.toml:8:8:"), "{stderr}");
    assert_eq!(stdout, "");
    for (args, expected) in [
        (&["check"][..], "required arguments were not provided"),
        (
            &[
                "check",
                "scenarios/card-auth.toml",
                "--max-amplification",
                "0.5",
            ],
            "expected a number of calls per request, at least 1",
        ),
    ] {
        let out = squall(args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let out = squall(&["check", "--help"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("docs/check.md"), "{stdout}");
    assert!(stdout.contains("--max-amplification <N>"), "{stdout}");
}

/// `squall run` prints the same findings first, on stderr, and runs anyway.
#[test]
fn run_prints_the_findings_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inverted.toml");
    std::fs::write(&path, inverted_scenario("45ms")).unwrap();
    let out = squall(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("       ERROR  a -> b  b / worst case 106ms"),
        "{stderr}"
    );
    assert!(stdout.contains("Summary  0 held, 0 failed"), "{stdout}");
}
