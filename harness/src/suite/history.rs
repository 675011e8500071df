//! `--history DIR`: what each suite run leaves for the next, so the index
//! can show a scenario's last [`SHOWN`] nights as trend lines.
//!
//! One file, `DIR/history.jsonl`, one JSON line per scenario per suite run
//! ([`Record`]): appended, never rewritten, so a CI cache or a git branch can
//! carry it and two suites never lose each other's lines. A line that does
//! not parse (a cut-off write, a newer format) is skipped and counted, not
//! fatal: losing one night's point is better than losing the trend.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Entry, KeyFigures, PassRate, Suite, Verdict};

/// The history file's name inside `--history DIR`.
pub const FILE: &str = "history.jsonl";

/// How many past suite runs of a scenario the index draws.
pub const SHOWN: usize = 30;

/// Version of a [`Record`]'s shape.
pub const FORMAT: u32 = 1;

/// One scenario in one suite run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub format: u32,
    /// When the suite started, `2026-11-28T10:15:00Z`.
    pub date: String,
    /// The suite's directory (its run id).
    pub suite: String,
    pub scenario: String,
    pub file: String,
    pub backend: String,
    /// The first run's seed.
    pub seed: u64,
    pub runs: u32,
    pub verdict: Verdict,
    pub pass_rates: Vec<PassRate>,
    /// The first judged run's figures; none when nothing ran.
    pub figures: Option<KeyFigures>,
}

impl Record {
    pub fn of(suite: &Suite, suite_id: &str, e: &Entry) -> Self {
        Record {
            format: FORMAT,
            date: suite.started_at.clone(),
            suite: suite_id.to_owned(),
            scenario: e.name.clone(),
            file: e.file.clone(),
            backend: suite.backend.as_str().to_owned(),
            seed: e.runs.first().map_or(0, |r| r.seed),
            runs: e.runs.len() as u32,
            verdict: e.verdict,
            pass_rates: e.pass_rates.clone(),
            figures: e.figures().cloned(),
        }
    }
}

/// Why the history could not be read or written (an environment error: exit 3).
#[derive(Debug, thiserror::Error)]
#[error("history {}: {source}", path.display())]
pub struct HistoryError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The history in `dir`: every record in file order, and how many lines did
/// not parse. A missing file is an empty history.
pub fn read(dir: &Path) -> Result<(Vec<Record>, usize), HistoryError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(source) => return Err(HistoryError { path, source }),
    };
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Record>(line) {
            Ok(r) if r.format == FORMAT => records.push(r),
            _ => skipped += 1,
        }
    }
    Ok((records, skipped))
}

/// Appends one line per scenario of `suite` to `dir/history.jsonl` (both
/// created when missing).
pub fn append(dir: &Path, suite: &Suite, suite_id: &str) -> Result<(), HistoryError> {
    let path = dir.join(FILE);
    let fail = |source| HistoryError {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut lines = String::new();
    for e in &suite.entries {
        let record = Record::of(suite, suite_id, e);
        // Plain structs and finite floats: serialising cannot fail.
        if let Ok(line) = serde_json::to_string(&record) {
            lines.push_str(&line);
            lines.push('\n');
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(fail)?;
    // One write: lines from two suites appending at once do not interleave.
    file.write_all(lines.as_bytes()).map_err(fail)
}

/// The last [`SHOWN`] records of `scenario`, oldest first.
pub fn last<'a>(records: &'a [Record], scenario: &str) -> Vec<&'a Record> {
    let mine: Vec<&Record> = records.iter().filter(|r| r.scenario == scenario).collect();
    mine[mine.len().saturating_sub(SHOWN)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::BackendKind;
    use crate::scenario::Expect;
    use crate::suite::{Run, RunOutcome};

    fn suite(p99: f64) -> Suite {
        let run = Run {
            seed: 3,
            dir: "a/1-seed3".into(),
            outcome: RunOutcome::Judged {
                held: true,
                judged_failure: false,
                interrupted: false,
                invariants: vec![crate::suite::Checked {
                    label: "answered".into(),
                    during: "all".into(),
                    held: true,
                    message: String::new(),
                }],
                figures: KeyFigures {
                    success: 0.99,
                    p99_ms: p99,
                    phase_p99_ms: [("faults".to_owned(), p99 * 2.0)].into_iter().collect(),
                    amplification: Some(("ledger".into(), 1.2)),
                    wasted: 0.01,
                },
            },
        };
        Suite {
            backend: BackendKind::Sim,
            repeat: 1,
            started_at: "2026-11-28T10:15:00Z".into(),
            entries: vec![Entry::new(
                "a".into(),
                "a.toml".into(),
                String::new(),
                Expect::Pass,
                vec![run],
            )],
            interrupted: false,
        }
    }

    #[test]
    fn records_round_trip_and_bad_lines_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read(tmp.path()).unwrap(), (vec![], 0));
        append(tmp.path(), &suite(10.0), "s1").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(tmp.path().join(FILE))
            .unwrap()
            .write_all(b"{\"cut off\n")
            .unwrap();
        append(tmp.path(), &suite(12.0), "s2").unwrap();
        let (records, skipped) = read(tmp.path()).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].suite, "s2");
        assert_eq!(records[1].verdict, Verdict::Pass);
        assert_eq!(records[1].figures.as_ref().unwrap().p99_ms, 12.0);
        assert_eq!(last(&records, "a").len(), 2);
        assert!(last(&records, "b").is_empty());
    }
}
