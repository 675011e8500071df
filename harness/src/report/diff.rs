//! `squall diff A B`: what changed between two runs of one scenario.
//!
//! Reads the two `report.json` files (a run directory stands for the one in
//! it) and lines up what a reviewer compares: each invariant's verdict and
//! figure, p99 and success per phase, calls per offered request per service,
//! and wasted work. [`Diff::worse`] says whether a verdict got worse (held
//! in A, failed in B), which `squall diff` turns into exit 1; [`markdown`]
//! is the same comparison as a pull-request comment.
//!
//! Only the fields the comparison needs are read ([`Facts`]), so a report
//! written by a later squall with more fields still compares.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::invariant::pct;
use crate::report::summary::ms;

/// The parts of a `report.json` a diff reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Facts {
    pub scenario: String,
    pub file: String,
    pub backend: String,
    pub seed: u64,
    pub verdict: String,
    pub invariants: Vec<InvariantFacts>,
    pub totals: Counts,
    pub phases: IndexMap<String, PhaseCounts>,
    pub services: IndexMap<String, ServiceCalls>,
    pub work: Work,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvariantFacts {
    pub label: String,
    pub held: bool,
    pub observed: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Counts {
    pub requests: u64,
    pub ok: u64,
    pub degraded: u64,
    pub p99_ms: f64,
}

impl Counts {
    /// Answered ok or degraded.
    fn success(&self) -> f64 {
        if self.requests == 0 {
            1.0
        } else {
            (self.ok + self.degraded) as f64 / self.requests as f64
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PhaseCounts {
    pub spans: Vec<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceCalls {
    pub amplification: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Work {
    pub wasted_ratio: f64,
}

/// Why two reports could not be compared (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{}: cannot read: {source} (hint: give a run directory, which holds report.json, or a report.json)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a squall report.json: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the runs are of different scenarios: `{a}` and `{b}` (hint: diff two runs of one scenario, e.g. two seeds or two nights)")]
    Different { a: String, b: String },
}

/// Reads the report at `path`: a `report.json`, or a run directory holding one.
pub fn load(path: &Path) -> Result<Facts, DiffError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| DiffError::Read {
        path: file.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| DiffError::Parse { path: file, source })
}

/// What a figure measures, for how a change is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Ratio,
    PerRequest,
    Seconds,
}

impl Unit {
    fn of(unit: &str) -> Self {
        match unit {
            "ms" => Unit::Ms,
            "ratio" => Unit::Ratio,
            "s" => Unit::Seconds,
            _ => Unit::PerRequest,
        }
    }

    /// `79ms`, `99.98%`, `1.02`.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{}ms", ms(v)),
            Unit::Seconds => format!("{}s", ms(v)),
            Unit::Ratio => pct(v),
            Unit::PerRequest => format!("{v:.2}"),
        }
    }

    /// `+4ms`, `-0.02 points`, `+0.10`.
    pub fn delta(self, a: f64, b: f64) -> String {
        let d = b - a;
        let sign = if d >= 0.0 { "+" } else { "-" };
        match self {
            Unit::Ms => format!("{sign}{}ms", ms(d.abs())),
            Unit::Seconds => format!("{sign}{}s", ms(d.abs())),
            Unit::Ratio => format!("{sign}{:.3} points", (d * 100.0).abs()),
            Unit::PerRequest => format!("{sign}{:.2}", d.abs()),
        }
    }
}

/// One invariant in both runs (absent in one when the files differ).
#[derive(Debug, Clone)]
pub struct InvariantChange {
    pub label: String,
    pub unit: Unit,
    /// (held, observed) in A and in B.
    pub a: Option<(bool, Option<f64>)>,
    pub b: Option<(bool, Option<f64>)>,
}

/// Better, worse or the same verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Same,
    Better,
    Worse,
}

impl InvariantChange {
    pub fn direction(&self) -> Direction {
        match (self.a, self.b) {
            (Some((true, _)), Some((false, _))) => Direction::Worse,
            (Some((false, _)), Some((true, _))) => Direction::Better,
            _ => Direction::Same,
        }
    }
}

/// A figure in both runs.
#[derive(Debug, Clone)]
pub struct FigureChange {
    /// `p99 faults`, `success all`, `calls per request ledger`, `wasted work`.
    pub name: String,
    pub unit: Unit,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl FigureChange {
    /// Whether it moved as a reader sees it: its two figures print
    /// differently (`1.00 -> 1.00` is float noise, not a change).
    pub fn moved(&self) -> bool {
        let show = |v: Option<f64>| v.map(|v| self.unit.show(v));
        show(self.a) != show(self.b)
    }

    /// `79ms -> 83ms (+4ms)`, `79ms` when it did not move, `- -> 83ms`.
    pub fn describe(&self) -> String {
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| self.unit.show(v));
        match (self.a, self.b) {
            (Some(a), Some(b)) if self.moved() => format!(
                "{} -> {} ({})",
                self.unit.show(a),
                self.unit.show(b),
                self.unit.delta(a, b)
            ),
            (Some(a), Some(_)) => self.unit.show(a),
            (a, b) => format!("{} -> {}", show(a), show(b)),
        }
    }
}

/// Two runs of one scenario, compared.
#[derive(Debug, Clone)]
pub struct Diff {
    pub scenario: String,
    pub a: Side,
    pub b: Side,
    pub invariants: Vec<InvariantChange>,
    pub figures: Vec<FigureChange>,
}

/// Which run one side is.
#[derive(Debug, Clone)]
pub struct Side {
    pub seed: u64,
    pub backend: String,
    pub verdict: String,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {} ({}, {})", self.seed, self.backend, self.verdict)
    }
}

impl Diff {
    /// Compares `a` with `b`; refuses runs of two different scenarios.
    pub fn of(a: &Facts, b: &Facts) -> Result<Diff, DiffError> {
        if a.scenario != b.scenario {
            return Err(DiffError::Different {
                a: a.scenario.clone(),
                b: b.scenario.clone(),
            });
        }
        let mut invariants: Vec<InvariantChange> = a
            .invariants
            .iter()
            .map(|v| InvariantChange {
                label: v.label.clone(),
                unit: Unit::of(&v.unit),
                a: Some((v.held, v.observed)),
                b: b.invariants
                    .iter()
                    .find(|w| w.label == v.label)
                    .map(|w| (w.held, w.observed)),
            })
            .collect();
        for w in &b.invariants {
            if !a.invariants.iter().any(|v| v.label == w.label) {
                invariants.push(InvariantChange {
                    label: w.label.clone(),
                    unit: Unit::of(&w.unit),
                    a: None,
                    b: Some((w.held, w.observed)),
                });
            }
        }
        let mut figures = Vec::new();
        let phase = |f: &Facts, name: &str| {
            f.phases
                .get(name)
                .filter(|p| !p.spans.is_empty())
                .map(|p| p.counts.clone())
        };
        let mut names = vec!["all".to_owned()];
        names.extend(a.phases.keys().cloned());
        names.extend(
            b.phases
                .keys()
                .filter(|k| !a.phases.contains_key(*k))
                .cloned(),
        );
        for metric in ["p99", "success"] {
            for name in &names {
                let get = |f: &Facts| {
                    let counts = if name == "all" {
                        Some(f.totals.clone())
                    } else {
                        phase(f, name)
                    };
                    counts.map(|c| {
                        if metric == "p99" {
                            c.p99_ms
                        } else {
                            c.success()
                        }
                    })
                };
                let (va, vb) = (get(a), get(b));
                if va.is_some() || vb.is_some() {
                    figures.push(FigureChange {
                        name: format!("{metric} {name}"),
                        unit: if metric == "p99" {
                            Unit::Ms
                        } else {
                            Unit::Ratio
                        },
                        a: va,
                        b: vb,
                    });
                }
            }
        }
        let mut services: Vec<&String> = a.services.keys().collect();
        services.extend(b.services.keys().filter(|k| !a.services.contains_key(*k)));
        for svc in services {
            figures.push(FigureChange {
                name: format!("calls per request {svc}"),
                unit: Unit::PerRequest,
                a: a.services.get(svc).map(|s| s.amplification),
                b: b.services.get(svc).map(|s| s.amplification),
            });
        }
        figures.push(FigureChange {
            name: "wasted work".into(),
            unit: Unit::Ratio,
            a: Some(a.work.wasted_ratio),
            b: Some(b.work.wasted_ratio),
        });
        let side = |f: &Facts| Side {
            seed: f.seed,
            backend: f.backend.clone(),
            verdict: f.verdict.clone(),
        };
        Ok(Diff {
            scenario: a.scenario.clone(),
            a: side(a),
            b: side(b),
            invariants,
            figures,
        })
    }

    /// Whether an invariant that held in A failed in B.
    pub fn worse(&self) -> bool {
        self.invariants
            .iter()
            .any(|i| i.direction() == Direction::Worse)
    }
}

/// `held 79ms`, `FAILED 120ms`, `FAILED (nothing to judge)`, `absent`.
pub fn verdict_cell(v: Option<(bool, Option<f64>)>, unit: Unit) -> String {
    match v {
        None => "absent".into(),
        Some((held, observed)) => format!(
            "{} {}",
            if held { "held" } else { "FAILED" },
            observed.map_or_else(|| "(nothing to judge)".to_owned(), |o| unit.show(o))
        ),
    }
}

/// The comparison as Markdown, for a pull-request comment.
pub fn markdown(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### squall diff: {}\n\nA: {}  \nB: {}\n",
        d.scenario, d.a, d.b
    );
    let worse = d
        .invariants
        .iter()
        .filter(|i| i.direction() == Direction::Worse)
        .count();
    let better = d
        .invariants
        .iter()
        .filter(|i| i.direction() == Direction::Better)
        .count();
    let _ = writeln!(
        s,
        "**{worse} invariant(s) got worse, {better} got better.**\n\n| invariant | A | B | |\n|---|---|---|---|"
    );
    for i in &d.invariants {
        let mark = match i.direction() {
            Direction::Worse => "**worse**",
            Direction::Better => "better",
            Direction::Same => "",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {mark} |",
            i.label,
            verdict_cell(i.a, i.unit),
            verdict_cell(i.b, i.unit)
        );
    }
    let _ = writeln!(s, "\n| figure | A | B | change |\n|---|---|---|---|");
    for f in &d.figures {
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| f.unit.show(v));
        let change = match (f.a, f.b) {
            (Some(a), Some(b)) if f.moved() => f.unit.delta(a, b),
            (Some(_), Some(_)) => "=".to_owned(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {change} |",
            f.name,
            show(f.a),
            show(f.b)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_in_their_unit() {
        assert_eq!(Unit::Ms.delta(79.0, 83.5), "+4.5ms");
        assert_eq!(Unit::Ratio.delta(0.9998, 0.9990), "-0.080 points");
        assert_eq!(Unit::PerRequest.delta(1.0, 1.25), "+0.25");
        let f = FigureChange {
            name: "p99 faults".into(),
            unit: Unit::Ms,
            a: Some(79.0),
            b: Some(79.0),
        };
        assert!(!f.moved());
        assert_eq!(f.describe(), "79ms");
        let f = FigureChange { b: Some(90.0), ..f };
        assert_eq!(f.describe(), "79ms -> 90ms (+11ms)");
        let noise = FigureChange {
            name: "calls per request ledger".into(),
            unit: Unit::PerRequest,
            a: Some(1.0012),
            b: Some(1.0021),
        };
        assert!(!noise.moved(), "1.00 -> 1.00 is not a change");
    }
}
