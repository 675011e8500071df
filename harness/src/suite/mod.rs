//! Suites: many scenario files run as one nightly job, one verdict and one
//! page for the lot (`squall suite`, docs/suites.md).
//!
//! A suite runs every file ([`files`] finds them: paths, globs, directories)
//! once or `--repeat N` times, and judges each scenario across its runs:
//!
//! - [`Verdict::Pass`]: every run held; [`Verdict::Weakness`]: an
//!   `expect = "fail"` file failed in every run as it says it does (a
//!   documented weakness, which counts as a pass);
//! - [`Verdict::Flaky`]: the runs disagree, which a single run would have
//!   hidden; it fails the suite, since one of its runs failed;
//! - [`Verdict::Fail`], [`Verdict::UnexpectedPass`] (an `expect = "fail"`
//!   file whose invariants all held: the weakness is gone or the file no
//!   longer shows it), [`Verdict::Error`] (a run could not happen).
//!
//! Each run is a [`Run`] (how it ended, each invariant's verdict, its
//! [`KeyFigures`]); the suite's exit code is the worst of its scenarios'
//! ([`Suite::exit_code`]).
//! What it writes: [`index`] (`index.html`), [`junit`] (one `junit.xml`) and
//! [`history`] (one JSON line per scenario per suite run, and the trend
//! lines drawn from it). This module holds values only; `squall suite`
//! (the CLI) runs the scenarios and prints.

pub mod files;
pub mod history;
pub mod index;
pub mod junit;
mod run;

use serde::{Deserialize, Serialize};

use crate::engine::BackendKind;
use crate::exit;
use crate::scenario::Expect;

pub use files::{files, FilesError};
pub use run::{Checked, KeyFigures, Run, RunOutcome};

/// The most runs `--repeat` asks of each scenario.
pub const MAX_REPEAT: u32 = 100;

/// The seed of a scenario's `run`-th run (from 0) in a suite.
///
/// The first run uses the scenario's own seed, so it is the run `squall run`
/// gives. In the simulator a seed replays the same run, so repeating it would
/// prove nothing: later runs take `seed + 1`, `seed + 2`... (each one a seed
/// a developer can pass to `squall run --seed`). On Docker the seed stays
/// the same: what varies between real runs is the real system (scheduling,
/// the kernel, the network), and keeping the fault schedule and the arrivals
/// fixed leaves that as the only thing that varies, so a flaky verdict
/// there means the system, not a different schedule.
pub fn seed_of(base: u64, run: u32, backend: BackendKind) -> u64 {
    match backend {
        BackendKind::Sim => base.wrapping_add(u64::from(run)),
        BackendKind::Docker | BackendKind::Gameday => base,
    }
}

/// A scenario's verdict across its runs in a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every invariant held in every run.
    Pass,
    /// `expect = "fail"`, and every run failed an invariant it could judge:
    /// the weakness the file documents is still there. Counts as a pass.
    Weakness,
    /// The runs disagree: some held where others failed.
    Flaky,
    /// An invariant failed in every run (of an `expect = "pass"` file, or of
    /// an `expect = "fail"` one with nothing to judge).
    Fail,
    /// `expect = "fail"`, but every invariant held in every run.
    UnexpectedPass,
    /// A run could not happen (bad input the backend found, the environment).
    Error,
}

impl Verdict {
    /// The word the terminal, index.html and JUnit use.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Weakness => "WEAKNESS",
            Verdict::Flaky => "FLAKY",
            Verdict::Fail => "FAIL",
            Verdict::UnexpectedPass => "UNEXPECTED",
            Verdict::Error => "ERROR",
        }
    }

    /// The badge on index.html, where there is room to say it in full.
    pub fn badge(self) -> &'static str {
        match self {
            Verdict::Weakness => "DOCUMENTED WEAKNESS",
            Verdict::UnexpectedPass => "UNEXPECTED PASS",
            v => v.word(),
        }
    }

    /// What the word means, for a reader who has not read this module.
    pub fn meaning(self) -> &'static str {
        match self {
            Verdict::Pass => "every invariant held",
            Verdict::Weakness => "documented weakness: failed as its `expect = \"fail\"` says",
            Verdict::Flaky => "flaky: the runs disagree",
            Verdict::Fail => "an invariant failed",
            Verdict::UnexpectedPass => {
                "expected to fail (`expect = \"fail\"`) but every invariant held"
            }
            Verdict::Error => "could not run",
        }
    }

    /// Whether the suite counts it as passed.
    pub fn passed(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Weakness)
    }

    /// A CSS class and a short kebab-case name (`unexpected-pass`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Weakness => "weakness",
            Verdict::Flaky => "flaky",
            Verdict::Fail => "fail",
            Verdict::UnexpectedPass => "unexpected-pass",
            Verdict::Error => "error",
        }
    }
}

/// How often one invariant held across a scenario's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    pub label: String,
    /// The window judged (two invariants may share a label: `success`
    /// during `baseline` and during `faults`).
    pub during: String,
    pub held: u32,
    pub runs: u32,
}

impl PassRate {
    /// Held in some runs and failed in others.
    pub fn flaky(&self) -> bool {
        self.held > 0 && self.held < self.runs
    }

    /// `held in 1 of 2 runs`.
    pub fn describe(&self) -> String {
        format!("held in {} of {} runs", self.held, self.runs)
    }
}

/// One scenario of a suite, every run of it, and its verdict across them.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub file: String,
    pub description: String,
    /// `pass` or `fail`, as the file says.
    pub expect: &'static str,
    pub runs: Vec<Run>,
    pub pass_rates: Vec<PassRate>,
    pub verdict: Verdict,
}

impl Entry {
    /// Judges a scenario across `runs` (at least one).
    pub fn new(
        name: String,
        file: String,
        description: String,
        expect: Expect,
        runs: Vec<Run>,
    ) -> Self {
        let verdict = judge(expect, &runs);
        Entry {
            name,
            file,
            description,
            expect: match expect {
                Expect::Pass => "pass",
                Expect::Fail => "fail",
            },
            pass_rates: pass_rates(&runs),
            runs,
            verdict,
        }
    }

    /// The exit code this scenario asks of the suite (DESIGN.md's codes).
    pub fn exit_code(&self) -> i32 {
        let interrupted = self.runs.iter().any(|r| {
            matches!(
                r.outcome,
                RunOutcome::Judged {
                    interrupted: true,
                    ..
                }
            )
        });
        let worst_error = self
            .runs
            .iter()
            .filter_map(|r| match r.outcome {
                RunOutcome::Error { code, .. } => Some(code),
                RunOutcome::Judged { .. } => None,
            })
            .max();
        if interrupted {
            return exit::ABORTED;
        }
        match self.verdict {
            Verdict::Pass | Verdict::Weakness => exit::HELD,
            Verdict::Flaky | Verdict::Fail | Verdict::UnexpectedPass => exit::INVARIANT_FAILED,
            Verdict::Error => worst_error.unwrap_or(exit::ENVIRONMENT),
        }
    }

    /// The figures of its first judged run (the scenario's own seed): the
    /// ones the index and the history show.
    pub fn figures(&self) -> Option<&KeyFigures> {
        self.runs.iter().find_map(Run::figures)
    }

    /// Labels of the invariants whose runs disagree.
    pub fn flaky_invariants(&self) -> Vec<&PassRate> {
        self.pass_rates.iter().filter(|p| p.flaky()).collect()
    }
}

/// The verdict of a scenario that expects `expect`, across `runs`.
fn judge(expect: Expect, runs: &[Run]) -> Verdict {
    let mut judged = Vec::new();
    for r in runs {
        match &r.outcome {
            RunOutcome::Error { .. } => return Verdict::Error,
            RunOutcome::Judged {
                held,
                judged_failure,
                ..
            } => judged.push((*held, *judged_failure)),
        }
    }
    let n = judged.len();
    let held = judged.iter().filter(|(h, _)| *h).count();
    match expect {
        Expect::Pass if held == n => Verdict::Pass,
        Expect::Pass if held == 0 => Verdict::Fail,
        Expect::Pass => Verdict::Flaky,
        Expect::Fail => {
            let as_expected = judged.iter().filter(|(h, j)| !h && *j).count();
            if as_expected == n {
                Verdict::Weakness
            } else if held == n {
                Verdict::UnexpectedPass
            } else if held == 0 && as_expected == 0 {
                Verdict::Fail
            } else {
                Verdict::Flaky
            }
        }
    }
}

/// Each invariant's pass rate across the judged runs, in file order. By
/// position, not by label: a file may judge `success` twice, in two windows.
fn pass_rates(runs: &[Run]) -> Vec<PassRate> {
    let mut rates: Vec<PassRate> = Vec::new();
    for r in runs {
        if let RunOutcome::Judged { invariants, .. } = &r.outcome {
            for (i, c) in invariants.iter().enumerate() {
                if rates.len() <= i {
                    rates.push(PassRate {
                        label: c.label.clone(),
                        during: c.during.clone(),
                        held: 0,
                        runs: 0,
                    });
                }
                rates[i].runs += 1;
                rates[i].held += u32::from(c.held);
            }
        }
    }
    rates
}

/// A whole suite: what ran, where, and each scenario's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Suite {
    #[serde(serialize_with = "backend_name")]
    pub backend: BackendKind,
    /// Runs per scenario.
    pub repeat: u32,
    /// When it started, `2026-11-28T10:15:00Z`.
    pub started_at: String,
    pub entries: Vec<Entry>,
    /// Stopped by Ctrl-C or SIGTERM: the scenarios after the one running
    /// then are missing.
    pub interrupted: bool,
}

fn backend_name<S: serde::Serializer>(b: &BackendKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.as_str())
}

/// How many scenarios ended with each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub weakness: usize,
    pub flaky: usize,
    pub fail: usize,
    pub unexpected_pass: usize,
    pub error: usize,
}

impl Suite {
    /// The worst exit code of its scenarios: 0 when every one passed (a
    /// documented weakness that failed as expected counts as passed).
    pub fn exit_code(&self) -> i32 {
        let worst = self
            .entries
            .iter()
            .map(Entry::exit_code)
            .max()
            .unwrap_or(exit::HELD);
        if self.interrupted {
            exit::ABORTED
        } else {
            worst
        }
    }

    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for e in &self.entries {
            match e.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Weakness => t.weakness += 1,
                Verdict::Flaky => t.flaky += 1,
                Verdict::Fail => t.fail += 1,
                Verdict::UnexpectedPass => t.unexpected_pass += 1,
                Verdict::Error => t.error += 1,
            }
        }
        t
    }

    /// `suite.json`: the same facts as the index, for scripts.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            + "\n"
    }
}

impl Tally {
    /// `3 passed, 1 documented weakness, 1 flaky, 1 failed`: the non-zero
    /// counts.
    pub fn describe(&self) -> String {
        let parts = [
            (self.pass, "passed"),
            (self.weakness, "documented weakness (failed as expected)"),
            (self.flaky, "flaky"),
            (self.fail, "failed"),
            (self.unexpected_pass, "passed unexpectedly"),
            (self.error, "could not run"),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if text.is_empty() {
            "nothing ran".into()
        } else {
            text.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn judged(held: bool, judged_failure: bool) -> Run {
        Run {
            seed: 1,
            dir: String::new(),
            outcome: RunOutcome::Judged {
                held,
                judged_failure,
                interrupted: false,
                invariants: vec![Checked {
                    label: "answered".into(),
                    during: "all".into(),
                    held,
                    message: String::new(),
                }],
                figures: KeyFigures {
                    success: 1.0,
                    p99_ms: 1.0,
                    phase_p99_ms: IndexMap::new(),
                    amplification: None,
                    wasted: 0.0,
                },
            },
        }
    }

    #[test]
    fn verdicts_across_runs() {
        let (pass, fail, empty) = (
            judged(true, false),
            judged(false, true),
            judged(false, false),
        );
        let cases: &[(Expect, Vec<Run>, Verdict)] = &[
            (Expect::Pass, vec![pass.clone()], Verdict::Pass),
            (
                Expect::Pass,
                vec![fail.clone(), fail.clone()],
                Verdict::Fail,
            ),
            (
                Expect::Pass,
                vec![pass.clone(), fail.clone()],
                Verdict::Flaky,
            ),
            (
                Expect::Fail,
                vec![fail.clone(), fail.clone()],
                Verdict::Weakness,
            ),
            (Expect::Fail, vec![pass.clone()], Verdict::UnexpectedPass),
            (
                Expect::Fail,
                vec![fail.clone(), pass.clone()],
                Verdict::Flaky,
            ),
            (Expect::Fail, vec![empty.clone()], Verdict::Fail),
            (
                Expect::Pass,
                vec![pass.clone(), Run::error(2, String::new(), "x".into(), 3)],
                Verdict::Error,
            ),
        ];
        for (expect, runs, want) in cases {
            assert_eq!(judge(*expect, runs), *want, "{expect:?} {runs:?}");
        }
    }

    #[test]
    fn two_invariants_with_one_label_keep_two_pass_rates() {
        let mut run = judged(true, false);
        if let RunOutcome::Judged { invariants, .. } = &mut run.outcome {
            let mut second = invariants[0].clone();
            second.during = "faults".into();
            second.held = false;
            invariants.push(second);
        }
        let rates = pass_rates(&[run]);
        assert_eq!(rates.len(), 2);
        assert_eq!((rates[1].during.as_str(), rates[1].held), ("faults", 0));
    }

    #[test]
    fn pass_rates_count_each_invariant() {
        let rates = pass_rates(&[judged(true, false), judged(false, true)]);
        assert_eq!(
            rates,
            vec![PassRate {
                label: "answered".into(),
                during: "all".into(),
                held: 1,
                runs: 2
            }]
        );
        assert!(rates[0].flaky());
        assert_eq!(rates[0].describe(), "held in 1 of 2 runs");
    }

    #[test]
    fn exit_codes_are_the_worst_and_a_weakness_passes() {
        let entry =
            |expect, runs| Entry::new("s".into(), "s.toml".into(), String::new(), expect, runs);
        assert_eq!(
            entry(Expect::Fail, vec![judged(false, true)]).exit_code(),
            0
        );
        assert_eq!(
            entry(Expect::Pass, vec![judged(false, true)]).exit_code(),
            1
        );
        assert_eq!(
            entry(
                Expect::Pass,
                vec![Run::error(1, String::new(), "x".into(), 3)]
            )
            .exit_code(),
            3
        );
        let suite = Suite {
            backend: BackendKind::Sim,
            repeat: 1,
            started_at: String::new(),
            entries: vec![
                entry(Expect::Pass, vec![judged(true, false)]),
                entry(Expect::Pass, vec![judged(true, false), judged(false, true)]),
                entry(Expect::Fail, vec![judged(false, true)]),
            ],
            interrupted: false,
        };
        assert_eq!(suite.exit_code(), 1);
        assert_eq!(
            suite.tally().describe(),
            "1 passed, 1 documented weakness (failed as expected), 1 flaky"
        );
    }

    #[test]
    fn repeated_seeds_differ_in_the_simulator_only() {
        assert_eq!(seed_of(7, 0, BackendKind::Sim), 7);
        assert_eq!(seed_of(7, 2, BackendKind::Sim), 9);
        assert_eq!(seed_of(u64::MAX, 1, BackendKind::Sim), 0);
        assert_eq!(seed_of(7, 2, BackendKind::Docker), 7);
    }
}
