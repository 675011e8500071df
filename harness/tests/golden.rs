//! Golden reports: every scenario in `scenarios/` (with `scenarios/regressions/`),
//! run by the real `squall` binary in the simulator at its own seed and full
//! duration, writes a `report.json` byte-identical to the one committed under
//! `harness/tests/golden/`, at the scenario's path below `scenarios/` with
//! `.toml` replaced by `.report.json`
//! (`scenarios/regressions/x.toml` -> `harness/tests/golden/regressions/x.report.json`).
//!
//! This is the safety net for refactors of the run core, the figures and the
//! report: a change that moves one byte of any report shows here. When a change
//! is *meant* to alter reports, regenerate them and commit the new goldens in a
//! commit of their own that says why:
//!
//! ```text
//! SQUALL_BLESS=1 cargo test -p squall --test golden
//! ```
//!
//! Each scenario runs in a process of its own (`squall run --out <tmp>`), as
//! users run it, so the binary and its CLI are what is checked. Up to
//! [`MAX_JOBS`] processes run at once, longest first, so the whole set takes
//! about as long as its longest scenario on a two-core machine. On a mismatch
//! the report that was written is kept under the test target's temporary
//! directory (printed) for a full `diff`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use squall::scenario;

/// Most `squall run` processes at once (each is single-threaded).
const MAX_JOBS: usize = 4;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every file under `dir` whose name ends with `extension`, as paths
/// relative to `dir`, sorted.
fn files_under(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(extension) {
                found.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// `regressions/x.toml` -> `regressions/x.report.json`.
fn golden_name(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .expect("a scenario file has a name")
        .to_string_lossy();
    scenario.with_file_name(format!("{stem}.report.json"))
}

/// The one `report.json` under `dir` (`<dir>/<name>/<run-id>/report.json`).
fn find_report(dir: &Path) -> Option<PathBuf> {
    files_under(dir, "report.json")
        .into_iter()
        .next()
        .map(|p| dir.join(p))
}

/// Runs `scenario` (relative to `scenarios/`) with the binary and returns the
/// bytes of the `report.json` it wrote.
fn run(scenario: &Path) -> Result<Vec<u8>, String> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = Path::new("scenarios").join(scenario);
    let output = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["run", "--color", "never", "--out"])
        .arg(out.path())
        .arg(&path)
        .current_dir(root())
        .output()
        .map_err(|e| format!("squall did not start: {e}"))?;
    let code = output.status.code();
    if !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "`squall run {}` exited with {code:?} (expected 0 or 1)\n--- stderr:\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report = find_report(out.path())
        .ok_or_else(|| format!("`squall run {}` wrote no report.json", path.display()))?;
    std::fs::read(&report).map_err(|e| format!("cannot read {}: {e}", report.display()))
}

/// A short account of how `actual` differs from `expected`: line counts, the
/// number of differing lines, and the first difference with two lines of
/// context on each side.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let differing = (0..e.len().max(a.len()))
        .filter(|&i| e.get(i) != a.get(i))
        .count();
    let Some(first) = (0..e.len().max(a.len())).find(|&i| e.get(i) != a.get(i)) else {
        return "the lines are equal; the bytes differ (line endings or a final newline)".into();
    };
    let mut out = format!(
        "{differing} of {} lines differ (golden {} lines, actual {}); first at line {}:\n",
        e.len().max(a.len()),
        e.len(),
        a.len(),
        first + 1
    );
    let from = first.saturating_sub(2);
    for i in from..first {
        out.push_str(&format!("   {}\n", e.get(i).unwrap_or(&"")));
    }
    for line in e.iter().skip(first).take(3) {
        out.push_str(&format!(" - {line}\n"));
    }
    for line in a.iter().skip(first).take(3) {
        out.push_str(&format!(" + {line}\n"));
    }
    out
}

#[test]
fn every_scenario_writes_its_golden_report() {
    let bless = std::env::var_os("SQUALL_BLESS").is_some_and(|v| v == "1");
    // A compose file's services run on Docker only, whose reports are not
    // reproducible (real time): those scenarios have no golden.
    let scenarios: Vec<PathBuf> = files_under(&root().join("scenarios"), ".toml")
        .into_iter()
        .filter(|rel| {
            let s = scenario::load(&root().join("scenarios").join(rel))
                .unwrap_or_else(|e| panic!("{e}"));
            s.docker.compose.is_none()
        })
        .collect();
    assert!(!scenarios.is_empty(), "no scenario under scenarios/");

    // Longest first (requests offered), so the slowest run does not start last.
    let mut queue: Vec<(f64, PathBuf)> = scenarios
        .iter()
        .map(|rel| {
            let s = scenario::load(&root().join("scenarios").join(rel))
                .unwrap_or_else(|e| panic!("{e}"));
            (s.workload.rate * s.duration.as_secs_f64(), rel.clone())
        })
        .collect();
    queue.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let queue = Mutex::new(queue.into_iter().map(|(_, p)| p).collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let jobs = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_JOBS);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let next = queue.lock().expect("queue").pop_front();
                let Some(rel) = next else { break };
                let result = run(&rel);
                results.lock().expect("results").push((rel, result));
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let actual_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-actual");
    let mut problems = Vec::new();
    for (rel, result) in results {
        let golden = golden_dir().join(golden_name(&rel));
        let actual = match result {
            Ok(bytes) => bytes,
            Err(message) => {
                problems.push(format!("{}: {message}", rel.display()));
                continue;
            }
        };
        if bless {
            if let Some(parent) = golden.parent() {
                std::fs::create_dir_all(parent).expect("create the golden directory");
            }
            std::fs::write(&golden, &actual).expect("write the golden report");
            eprintln!("blessed {}", golden.display());
            continue;
        }
        let expected = match std::fs::read(&golden) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(format!(
                    "{}: no golden report at {} ({e})",
                    rel.display(),
                    golden.display()
                ));
                continue;
            }
        };
        if expected != actual {
            let kept = actual_dir.join(golden_name(&rel));
            if let Some(parent) = kept.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(&kept, &actual);
            problems.push(format!(
                "{}: report.json differs from {}\n{}  full diff: diff {} {}",
                rel.display(),
                golden.display(),
                diff(
                    &String::from_utf8_lossy(&expected),
                    &String::from_utf8_lossy(&actual)
                ),
                golden.display(),
                kept.display()
            ));
        }
    }
    // A golden whose scenario is gone (renamed, deleted) is stale.
    let wanted: Vec<PathBuf> = scenarios.iter().map(|s| golden_name(s)).collect();
    for stale in files_under(&golden_dir(), ".report.json") {
        if !wanted.contains(&stale) {
            problems.push(format!(
                "{}: golden report with no scenario in scenarios/ (delete it)",
                golden_dir().join(stale).display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the golden reports:\n\n{}\n\nIf the change is intended, \
         regenerate them with `SQUALL_BLESS=1 cargo test -p squall --test golden` and \
         commit the new goldens in a commit of their own that says why.",
        problems.len(),
        problems.join("\n\n")
    );
}
