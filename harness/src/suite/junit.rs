//! The suite's `junit.xml`: one test suite per scenario, one test case per
//! invariant, judged across the scenario's runs, so a CI page shows the same
//! verdicts as `index.html`:
//!
//! - held in every run: passed;
//! - flaky (held in some runs only): a failure of type `flaky` whose message
//!   starts `flaky: held in 1 of 2 runs`;
//! - failed as an `expect = "fail"` file documents: skipped, with the message
//!   `documented weakness: ...` (it does not fail the build, and stands out);
//! - failed otherwise: a failure with the invariant's message;
//! - an `expect = "fail"` file whose invariants all held gets one more case,
//!   `expect = "fail"`, failed; a run that could not happen, an error case.

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::{Entry, RunOutcome, Suite, Verdict};
use crate::report::junit::render_suites;

/// Renders the suite's JUnit XML. No timestamps: the same suite renders the
/// same bytes.
pub fn render(suite: &Suite) -> String {
    render_suites(suite.entries.iter().map(scenario).collect())
}

fn scenario(e: &Entry) -> TestSuite {
    let class = format!("squall.{}", e.name);
    let mut ts = TestSuite::new(class.clone());
    let seeds: Vec<String> = e.runs.iter().map(|r| r.seed.to_string()).collect();
    for (i, rate) in e.pass_rates.iter().enumerate() {
        // The first failing run's message, with its seed.
        let failure = e.runs.iter().find_map(|r| match &r.outcome {
            RunOutcome::Judged { invariants, .. } => {
                invariants.get(i).filter(|c| !c.held).map(|c| (r.seed, c))
            }
            RunOutcome::Error { .. } => None,
        });
        let during = &rate.during;
        let status = match failure {
            None => TestCaseStatus::success(),
            Some((seed, c)) if rate.flaky() => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("flaky");
                s.set_message(format!(
                    "flaky: {} (seed {seed}: {})",
                    rate.describe(),
                    c.message
                ));
                s
            }
            Some((seed, c)) if e.verdict == Verdict::Weakness => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!(
                    "documented weakness (expect = \"fail\"): seed {seed}: {}",
                    c.message
                ));
                s
            }
            Some((seed, c)) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("failed");
                s.set_message(format!("{}: seed {seed}: {}", rate.describe(), c.message));
                s
            }
        };
        let mut case = TestCase::new(format!("{} ({during})", rate.label), status);
        case.set_classname(class.clone());
        ts.add_test_case(case);
    }
    if e.verdict == Verdict::UnexpectedPass {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_type("unexpected-pass");
        s.set_message(Verdict::UnexpectedPass.meaning());
        let mut case = TestCase::new("expect = \"fail\"", s);
        case.set_classname(class.clone());
        ts.add_test_case(case);
    }
    for r in &e.runs {
        if let RunOutcome::Error { message, .. } = &r.outcome {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(message.clone());
            let mut case = TestCase::new(format!("run (seed {})", r.seed), s);
            case.set_classname(class.clone());
            ts.add_test_case(case);
        }
    }
    ts.add_property(("file", e.file.as_str()));
    ts.add_property(("expect", e.expect));
    ts.add_property(("verdict", e.verdict.as_str()));
    ts.add_property(("seeds", seeds.join(",").as_str()));
    ts
}
