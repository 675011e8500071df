//! `squall check`: validate scenario files, analyse their timeout budgets
//! ([`squall::check`]) and print the findings, for people or as JSON. Also
//! the findings `squall run` prints (on stderr) before each run.

use std::path::PathBuf;

use anstream::{eprint, eprintln, print, println};
use serde::Serialize;

use squall::check::finding::fmt_time;
use squall::check::{
    analyse, entry_bound, entry_worst, peak_amplification, CheckOptions, Finding, Severity,
};
use squall::exit;
use squall::scenario::{self, Scenario};

use super::{verb, BAD, GOOD, NOTE};

const WARN: anstyle::Style = anstyle::AnsiColor::Yellow.on_default().bold();

/// Runs `squall check`; returns the exit code (0 no error, 1 an error, 2 bad input).
pub fn check(paths: &[PathBuf], json: bool, max_amplification: f64) -> i32 {
    // Every file is validated first: a bad one is exit 2 and nothing is analysed.
    let mut scenarios = Vec::new();
    for path in paths {
        match scenario::load(path) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {e}");
                return exit::BAD_INPUT;
            }
        }
    }
    let options = CheckOptions { max_amplification };
    let mut code = exit::HELD;
    let mut files = Vec::new();
    for scenario in &scenarios {
        let findings = analyse(scenario, &options);
        if findings.iter().any(|f| f.severity == Severity::Error) {
            // The same code as a failed invariant: "the check found a problem".
            code = exit::INVARIANT_FAILED;
        }
        let file = FileResult::new(scenario, findings);
        if json {
            files.push(file);
        } else {
            print_file(scenario, &file);
        }
    }
    if json {
        let doc = serde_json::json!({ "files": files });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        );
    }
    code
}

/// Prints the findings for `scenario` on stderr, as `squall run` does before
/// running it; prints nothing when there are none.
pub fn print_findings(scenario: &Scenario, options: &CheckOptions) {
    for finding in analyse(scenario, options) {
        eprint!("{}", finding.render(&severity_verb(finding.severity)));
    }
}

/// What `--json` prints per file.
#[derive(Serialize)]
struct FileResult {
    file: String,
    scenario: String,
    errors: usize,
    warnings: usize,
    /// The entry endpoint's worst case; `null` when a call has no timeout.
    entry_worst_ms: Option<f64>,
    deadline_ms: f64,
    /// The largest product of attempts along a path, and that path.
    peak_amplification: f64,
    peak_path: Vec<String>,
    findings: Vec<Finding>,
}

impl FileResult {
    fn new(scenario: &Scenario, findings: Vec<Finding>) -> Self {
        let (peak, peak_path) = peak_amplification(scenario);
        FileResult {
            file: scenario.path.display().to_string(),
            scenario: scenario.name.clone(),
            errors: count(&findings, Severity::Error),
            warnings: count(&findings, Severity::Warning),
            entry_worst_ms: entry_worst(scenario).map(|d| d.as_secs_f64() * 1e3),
            deadline_ms: scenario.workload.deadline.as_secs_f64() * 1e3,
            peak_amplification: peak,
            peak_path,
            findings,
        }
    }
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

fn severity_verb(severity: Severity) -> String {
    match severity {
        Severity::Error => verb(BAD, severity.verb()),
        Severity::Warning => verb(WARN, severity.verb()),
    }
}

fn print_file(scenario: &Scenario, file: &FileResult) {
    println!(
        "{}  {} ({})",
        verb(NOTE, "Checking"),
        scenario.name,
        scenario.path.display()
    );
    for finding in &file.findings {
        print!("{}", finding.render(&severity_verb(finding.severity)));
    }
    let (target, path) = (&scenario.workload.target, &scenario.workload.path);
    let deadline = fmt_time(scenario.workload.deadline);
    let worst = match (entry_worst(scenario), entry_bound(scenario)) {
        (Some(w), Some(b)) if b < w => format!(
            "{target} {path} worst case {} as written, cut to {} by propagate_deadline, for a {deadline} deadline",
            fmt_time(w),
            fmt_time(b),
        ),
        (None, Some(b)) => format!(
            "{target} {path} worst case unbounded as written (a call has no timeout), cut to {} by propagate_deadline, for a {deadline} deadline",
            fmt_time(b),
        ),
        (Some(w), _) => format!("{target} {path} worst case {} for a {deadline} deadline", fmt_time(w)),
        (None, _) => format!("{target} {path} worst case unbounded (a call has no timeout)"),
    };
    let calls = squall::check::finding::fmt_ratio(file.peak_amplification);
    let peak = format!(
        "at most {calls} {} per request on {}",
        if calls == "1" { "call" } else { "calls" },
        file.peak_path.last().map(String::as_str).unwrap_or("")
    );
    if file.findings.is_empty() {
        println!("{}  {worst}; {peak}", verb(GOOD, "CLEAN"));
    }
    let style = if file.errors > 0 { BAD } else { GOOD };
    let figures = if file.findings.is_empty() {
        String::new()
    } else {
        format!(" ({worst}; {peak})")
    };
    println!(
        "{}  {}: {} {}, {} {}{figures}",
        verb(style, "Summary"),
        scenario.name,
        file.errors,
        if file.errors == 1 { "error" } else { "errors" },
        file.warnings,
        if file.warnings == 1 {
            "warning"
        } else {
            "warnings"
        },
    );
}
