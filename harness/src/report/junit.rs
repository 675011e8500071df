//! `junit.xml`: one test suite per run, one test case per invariant, so CI
//! systems show which invariant failed and why.

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use crate::report::Report;

/// Renders the JUnit XML of a report. No timestamps or ids: the same report
/// renders the same bytes.
pub fn render(report: &Report) -> String {
    render_suites(vec![suite(report)])
}

/// One document for several runs (`squall run --junit FILE`): a suite per
/// run under one `<testsuites>` whose `tests` and `failures` are the totals.
pub fn render_suites(suites: Vec<TestSuite>) -> String {
    let mut junit = JunitReport::new("squall");
    junit.add_test_suites(suites);
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->\n"))
}

/// The test suite of one run: a test case per invariant.
pub fn suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new(format!("squall.{}", report.scenario));
    for v in &report.invariants {
        let status = if v.held {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(v.message.clone());
            s.set_type(v.kind.as_str());
            s
        };
        let mut case = TestCase::new(format!("{} ({})", v.label, v.during), status);
        case.set_classname(format!("squall.{}", report.scenario));
        case.set_system_out(v.message.clone());
        suite.add_test_case(case);
    }
    suite.add_property(("seed", report.seed.to_string().as_str()));
    suite.add_property(("backend", report.backend));
    suite
}
