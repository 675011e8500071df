//! What the analysis reports: one [`Finding`] per problem, naming the call
//! path, the figures, why it matters and a concrete fix; rendered for people
//! (right-aligned verb, then indented `why:` and `fix:`) or as JSON.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How bad a finding is: any error makes `squall check` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The verb printed before the finding.
    pub fn verb(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

/// The kinds of problem the analysis finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The entry endpoint's worst case exceeds the workload's deadline.
    DeadlineExceeded,
    /// A callee's worst case exceeds the per-attempt timeout its caller gives it.
    InvertedTimeout,
    /// A call without a timeout: its worst case is unbounded.
    MissingTimeout,
    /// The product of attempts along a path exceeds the bound.
    RetryAmplification,
    /// A hedged call with no retry budget to cap the extra load.
    HedgeWithoutBudget,
    /// A service propagates deadlines but its caller does not forward one.
    PropagationGap,
}

impl FindingKind {
    /// The kebab-case name, as in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::DeadlineExceeded => "deadline-exceeded",
            FindingKind::InvertedTimeout => "inverted-timeout",
            FindingKind::MissingTimeout => "missing-timeout",
            FindingKind::RetryAmplification => "retry-amplification",
            FindingKind::HedgeWithoutBudget => "hedge-without-budget",
            FindingKind::PropagationGap => "propagation-gap",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem in a scenario's timeouts, retries or policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    /// Service names from the workload's target down to the service concerned.
    pub path: Vec<String>,
    /// One line with the figures.
    pub message: String,
    /// Why it matters.
    pub why: String,
    /// A concrete change that removes it.
    pub fix: String,
}

impl Finding {
    /// `gateway -> card-api -> ledger`.
    pub fn path_text(&self) -> String {
        self.path.join(" -> ")
    }

    /// The finding for a terminal: `verb` (already padded and styled by the
    /// caller), the path and message, then `why:` and `fix:` indented under
    /// the message.
    pub fn render(&self, verb: &str) -> String {
        let indent = " ".repeat(14);
        format!(
            "{verb}  {}  {}\n{indent}why: {}\n{indent}fix: {}\n",
            self.path_text(),
            self.message,
            self.why,
            self.fix
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&format!("{:>12}", self.severity.verb())))
    }
}

/// A duration as the run's verdicts write it ([`crate::report::fmt_duration`]:
/// `150ms`, `1.5s`, `13.8ms`), but to the millisecond from one second up
/// (`1.271s`, where a verdict would round to `1.27s`): a finding's figures add
/// up, and its fixes are values to write in the scenario, which a rounded
/// figure could leave short.
pub fn fmt_time(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        crate::report::fmt_duration(d)
    }
}

/// A ratio without needless decimals: `64`, `1.33`.
pub fn fmt_ratio(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_like_timeouts() {
        assert_eq!(fmt_time(Duration::from_millis(1271)), "1.271s");
        assert_eq!(fmt_time(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_time(Duration::from_secs(64)), "64s");
        assert_eq!(fmt_time(Duration::from_millis(12_345)), "12.345s");
        assert_eq!(fmt_time(Duration::from_millis(999)), "999ms");
        assert_eq!(fmt_time(Duration::from_micros(13_815)), "13.8ms");
        assert_eq!(fmt_time(Duration::from_micros(500)), "500us");
        assert_eq!(fmt_time(Duration::ZERO), "0ms");
        assert_eq!(fmt_ratio(64.0), "64");
        assert_eq!(fmt_ratio(1.331), "1.33");
        assert_eq!(fmt_ratio(1.5), "1.5");
    }

    #[test]
    fn a_finding_renders_path_message_why_and_fix() {
        let finding = Finding {
            severity: Severity::Warning,
            kind: FindingKind::HedgeWithoutBudget,
            path: vec!["a".into(), "b".into()],
            message: "m".into(),
            why: "w".into(),
            fix: "f".into(),
        };
        assert_eq!(
            finding.to_string(),
            "     WARNING  a -> b  m\n              why: w\n              fix: f\n"
        );
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["kind"], "hedge-without-budget");
        assert_eq!(json["path"][1], "b");
    }
}
