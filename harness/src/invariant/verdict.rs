//! [`Verdict`]: what judging one invariant says, as `report.json` writes it.
//!
//! Its kind and unit are enums, so code matches on them instead of comparing
//! strings; they serialise to the spellings `report.json` has always used
//! (`wasted_work`, `calls per request`), so the file does not change.

use schemars::JsonSchema;
use serde::Serialize;

use crate::scenario::InvariantId;

/// The verdict on one invariant.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Verdict {
    /// Which of the scenario's invariants this is. Not in `report.json`,
    /// whose `invariants` are in file order already: for code comparing
    /// verdicts (explore), where two invariants may share a `label`.
    #[serde(skip)]
    pub id: InvariantId,
    /// `answered`, `latency`, `success`, `recovery`, `amplification`, `wasted_work`.
    pub kind: VerdictKind,
    /// A short name: `latency p99`, `amplification ledger`.
    pub label: String,
    /// Whether the invariant held.
    pub held: bool,
    /// The measured figure, in `unit`; `None` (`null`) when there was nothing to measure.
    pub observed: Option<f64>,
    /// The bound it was held to, in `unit`.
    pub limit: f64,
    /// `ratio`, `ms`, `s`, `calls per request`.
    pub unit: Unit,
    /// The window judged: `all`, `faults`, `20s..40s`.
    pub during: String,
    /// The one-second window where the figure was worst, when that helps.
    pub worst_window: Option<String>,
    /// One line a person reads.
    pub message: String,
}

/// The kind of invariant a verdict is on, spelled as in scenario files.
// Inlined: the schema describes the field as a string enum in place, as it
// did when the field was a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum VerdictKind {
    Answered,
    Latency,
    Success,
    Recovery,
    Amplification,
    WastedWork,
}

impl VerdictKind {
    /// The spelling of scenario files and `report.json`: `wasted_work`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Answered => "answered",
            VerdictKind::Latency => "latency",
            VerdictKind::Success => "success",
            VerdictKind::Recovery => "recovery",
            VerdictKind::Amplification => "amplification",
            VerdictKind::WastedWork => "wasted_work",
        }
    }
}

/// The unit of a verdict's `observed` and `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[schemars(inline)]
pub enum Unit {
    // No doc comments on the variants: schemars would make each a `oneOf`
    // entry instead of one string enum.
    #[serde(rename = "ratio")]
    Ratio,
    #[serde(rename = "ms")]
    Ms,
    #[serde(rename = "s")]
    S,
    #[serde(rename = "calls per request")]
    CallsPerRequest,
}

impl Unit {
    /// As `report.json` writes it: `calls per request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ratio => "ratio",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::CallsPerRequest => "calls per request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` and serde agree, so text and JSON spell a kind the same way.
    #[test]
    fn spellings_match_serde() {
        use VerdictKind::*;
        for kind in [
            Answered,
            Latency,
            Success,
            Recovery,
            Amplification,
            WastedWork,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for unit in [Unit::Ratio, Unit::Ms, Unit::S, Unit::CallsPerRequest] {
            assert_eq!(serde_json::to_value(unit).unwrap(), unit.as_str());
        }
    }
}
