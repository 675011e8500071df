//! No input makes squall panic: every scenario in `scenarios/`, with its keys
//! mutated (huge, zero, negative, NaN, infinite, empty, the wrong type, a
//! duplicate key, an unknown key, random durations and numbers), goes through
//! load, `squall check`'s analysis and a short simulated run, and ends in exit
//! 0, 1 or 2: never a panic, never an environment error.
//!
//! Two properties:
//! - through the library (fast, a few hundred cases): `scenario::parse`,
//!   `check::analyse`, `[explore]` and its fault space, then a run of
//!   [`SHORT_RUN`] simulated time at a rate of at most [`TEST_RATE`] and a
//!   deadline of at most [`TEST_DEADLINE`] (so a case takes milliseconds), the
//!   invariants and `report.json`. A panic anywhere is caught
//!   (`catch_unwind`) and reported with the mutated file that caused it.
//! - through the real binary (a handful of cases): `squall check` and
//!   `squall run --duration 300ms` on the mutated file exit 0, 1 or 2.
//!
//! The cases are drawn from a fixed seed, so CI sees the same ones every time
//! and a failure is reproduced by running the test again.

use std::cell::Cell;
use std::ffi::OsStr;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use squall::check::{analyse, CheckOptions};
use squall::engine::RunOptions;
use squall::report::Report;
use squall::scenario;

/// Cases of the library property.
const LIBRARY_CASES: u32 = 600;
/// Cases of the binary property (each starts two processes).
const BINARY_CASES: u32 = 8;
/// Simulated load phase of each run.
const SHORT_RUN: Duration = Duration::from_millis(300);
/// The library property lowers faster rates to this, requests per second.
const TEST_RATE: f64 = 200.0;
/// ... and longer deadlines to this, so no case waits long for its last answer.
const TEST_DEADLINE: Duration = Duration::from_secs(1);
/// A binary case that takes longer than this is killed and reported as hung.
const BINARY_WALL_LIMIT: Duration = Duration::from_secs(120);

/// Every scenario file, with its text.
fn scenarios() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("scenarios/ exists")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("scenario readable");
            (p, text)
        })
        .collect()
}

/// A place in the file that a mutation can change: a value, with the key it
/// belongs to (none for an array element) and whether it sits in an inline
/// table.
#[derive(Debug, Clone)]
struct Site {
    value: Range<usize>,
    key: Option<String>,
    inline: bool,
}

/// Every value of the document, tables' and inline tables' alike, depth first.
fn sites(text: &str) -> Vec<Site> {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk_table(doc.as_table(), &mut out);
    out
}

fn walk_table(table: &toml_edit::Table, out: &mut Vec<Site>) {
    for (key, item) in table.iter() {
        match item {
            toml_edit::Item::Table(t) => walk_table(t, out),
            toml_edit::Item::ArrayOfTables(array) => {
                for t in array.iter() {
                    walk_table(t, out);
                }
            }
            toml_edit::Item::Value(v) => walk_value(Some(key), v, false, out),
            toml_edit::Item::None => {}
        }
    }
}

fn walk_value(key: Option<&str>, value: &toml_edit::Value, inline: bool, out: &mut Vec<Site>) {
    if let Some(span) = value.span() {
        out.push(Site {
            value: span,
            key: key.map(str::to_owned),
            inline,
        });
    }
    match value {
        toml_edit::Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                walk_value(Some(k), v, true, out);
            }
        }
        toml_edit::Value::Array(a) => {
            for v in a.iter() {
                walk_value(None, v, false, out);
            }
        }
        _ => {}
    }
}

/// What to do to a value.
#[derive(Debug, Clone)]
enum Mutation {
    Huge,
    Zero,
    Negative,
    Nan,
    Infinite(bool),
    Empty,
    /// One of [`WRONG_TYPES`].
    WrongType(usize),
    /// One of [`ODD_TEXTS`]: names, targets and windows that almost fit.
    OddText(usize),
    /// The key again, with the same value, in the same table.
    Duplicate,
    /// A key no table takes, beside this one.
    Unknown,
    /// `"<n><unit>"`.
    Duration(u64, usize),
    Float(f64),
    Int(i64),
}

const WRONG_TYPES: &[&str] = &["true", "[1, 2]", "{ a = 1 }", "\"text\"", "1.5", "7", "[]"];
const ODD_TEXTS: &[&str] = &[
    "\"ledger-0\"",
    "\"ledger:0\"",
    "\"ledger:99\"",
    "\"-\"",
    "\"0s..0s\"",
    "\"20s..10s\"",
    "\"1s..9999999999999999999s\"",
    "\"/\"",
    "\"gateway\"",
    "\" \"",
    "\"/squall/spans\"",
];
const UNITS: &[&str] = &["ns", "us", "ms", "s", "m", "h"];

/// Values a file could plausibly hold (random durations and numbers, small
/// and huge) weigh more than the plainly wrong ones, so that a fair share of
/// cases loads and reaches the run.
fn mutation() -> impl Strategy<Value = Mutation> {
    let count = prop_oneof![0..10u64, 0..1_000u64, 0..100_000_000u64];
    prop_oneof![
        1 => Just(Mutation::Huge),
        2 => Just(Mutation::Zero),
        1 => Just(Mutation::Negative),
        1 => Just(Mutation::Nan),
        1 => any::<bool>().prop_map(Mutation::Infinite),
        1 => Just(Mutation::Empty),
        1 => (0..WRONG_TYPES.len()).prop_map(Mutation::WrongType),
        1 => (0..ODD_TEXTS.len()).prop_map(Mutation::OddText),
        1 => Just(Mutation::Duplicate),
        1 => Just(Mutation::Unknown),
        6 => (count.clone(), 0..UNITS.len()).prop_map(|(n, u)| Mutation::Duration(n, u)),
        2 => prop_oneof![any::<f64>(), 0.0..1.0f64, 0.0..1000.0f64].prop_map(Mutation::Float),
        2 => prop_oneof![any::<i64>(), count.prop_map(|n| n as i64)].prop_map(Mutation::Int),
    ]
}

/// `text` with `mutation` applied at `site`.
fn apply(text: &str, site: &Site, mutation: &Mutation) -> String {
    let original = &text[site.value.clone()];
    let is_string = original.starts_with(['"', '\'']);
    let is_float = !is_string && original.contains(['.', 'e', 'E', 'n', 'i']);
    let pick = |string: &str, int: &str, float: &str| {
        if is_string {
            string.to_owned()
        } else if is_float {
            float.to_owned()
        } else {
            int.to_owned()
        }
    };
    let replacement = match mutation {
        Mutation::Huge => pick("\"9999999999999999999s\"", "9223372036854775807", "1e308"),
        Mutation::Zero => pick("\"0s\"", "0", "0.0"),
        Mutation::Negative => pick("\"-1s\"", "-1", "-0.5"),
        Mutation::Nan => "nan".to_owned(),
        Mutation::Infinite(positive) => if *positive { "inf" } else { "-inf" }.to_owned(),
        Mutation::Empty => "\"\"".to_owned(),
        Mutation::WrongType(i) => WRONG_TYPES[*i].to_owned(),
        Mutation::OddText(i) => ODD_TEXTS[*i].to_owned(),
        Mutation::Duration(n, u) => format!("\"{n}{}\"", UNITS[*u]),
        Mutation::Float(f) => toml_float(*f),
        Mutation::Int(i) => i.to_string(),
        Mutation::Duplicate | Mutation::Unknown => {
            let key = match (mutation, &site.key) {
                (Mutation::Unknown, _) => "squall_unknown_key".to_owned(),
                (_, Some(key)) => toml_edit::Key::new(key.as_str()).to_string(),
                // An array element: a second copy of it.
                (_, None) => {
                    let end = site.value.end;
                    return format!("{}, {original}{}", &text[..end], &text[end..]);
                }
            };
            let end = site.value.end;
            let separator = if site.inline || site.key.is_none() {
                ", "
            } else {
                "\n"
            };
            return format!(
                "{}{separator}{key} = {original}{}",
                &text[..end],
                &text[end..]
            );
        }
    };
    format!(
        "{}{replacement}{}",
        &text[..site.value.start],
        &text[site.value.end..]
    )
}

/// `f` as a TOML float (`nan`, `inf` and an exponent form TOML accepts).
fn toml_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        // `1.5e0`, `1e308`, `-2e-300`: Rust's shortest round-trip form is TOML.
        format!("{f:e}")
    }
}

/// One case: a scenario and one or two mutations, each at a site picked
/// among the sites of the text as it is by then.
fn case() -> impl Strategy<Value = (Index, Vec<(Index, Mutation)>)> {
    (
        any::<Index>(),
        prop::collection::vec((any::<Index>(), mutation()), 1..=2),
    )
}

fn mutate(files: &[(PathBuf, String)], (file, steps): &(Index, Vec<(Index, Mutation)>)) -> String {
    let mut text = files[file.index(files.len())].1.clone();
    for (at, m) in steps {
        let sites = sites(&text);
        if sites.is_empty() {
            break; // no longer TOML: later mutations have nothing to hold on to
        }
        text = apply(&text, &sites[at.index(sites.len())], m);
    }
    text
}

/// The exit code `squall` would give for `text`, through the library, or why
/// it would give something else.
fn outcome(text: &str) -> Result<i32, String> {
    let path = Path::new("scenarios/mutated.toml");
    let scenario = match scenario::parse(text, path) {
        Ok(s) => s,
        Err(_) => return Ok(2),
    };
    let _ = analyse(&scenario, &CheckOptions::default());
    let _ = squall::check::entry_worst(&scenario);
    let _ = squall::check::peak_amplification(&scenario);
    if let Some(config) = scenario.explore.clone() {
        let _ = squall::explore::strategy::Space::new(&scenario, config, SHORT_RUN);
    }
    let mut short = scenario.clone();
    short.workload.rate = short.workload.rate.min(TEST_RATE);
    short.workload.deadline = short.workload.deadline.min(TEST_DEADLINE);
    let opts = RunOptions {
        duration: Some(SHORT_RUN),
        ..RunOptions::default()
    };
    let record = match squall::sim::run(&short, &opts) {
        Ok(record) => record,
        Err(e) if e.exit_code() == squall::exit::BAD_INPUT => return Ok(2),
        Err(e) => return Err(format!("the run failed with exit {}: {e}", e.exit_code())),
    };
    let verdicts = squall::invariant::evaluate(&short, &record);
    let held = verdicts.iter().all(|v| v.held);
    let _ = Report::build(&short, &record, verdicts).to_json();
    Ok(if held { 0 } else { 1 })
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking a case that panicked re-runs simulations; a few steps say enough.
        max_shrink_iters: 64,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

#[test]
fn no_mutated_scenario_panics_in_load_check_or_a_short_run() {
    let files = scenarios();
    assert!(!files.is_empty());
    let started = Instant::now();
    let outcomes = [Cell::new(0u32), Cell::new(0), Cell::new(0)];
    // `SQUALL_PROPERTIES_KEEP_GOING=1`: print every failing case and go on
    // (no shrinking), to see all a change breaks in one run.
    let keep_going = std::env::var_os("SQUALL_PROPERTIES_KEEP_GOING").is_some_and(|v| v == "1");
    let failures = Cell::new(0u32);
    // `SQUALL_PROPERTIES_CASES=N`: more (or fewer) cases, to search harder by hand.
    let cases = std::env::var("SQUALL_PROPERTIES_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(LIBRARY_CASES);
    let result = runner(cases).run(&case(), |input| {
        let text = mutate(&files, &input);
        let failure = match catch_unwind(AssertUnwindSafe(|| outcome(&text))) {
            Ok(Ok(code)) => {
                let count = &outcomes[code as usize];
                count.set(count.get() + 1);
                return Ok(());
            }
            Ok(Err(why)) => format!("{why}\n--- mutated scenario:\n{text}"),
            Err(payload) => format!(
                "panicked: {}\n--- mutated scenario:\n{text}",
                panic_message(payload.as_ref())
            ),
        };
        if keep_going {
            failures.set(failures.get() + 1);
            eprintln!("=== failing case {}: {failure}\n", failures.get());
            return Ok(());
        }
        Err(TestCaseError::fail(failure))
    });
    eprintln!(
        "{cases} cases in {:.1}s: exit 0 x{}, 1 x{}, 2 x{}",
        started.elapsed().as_secs_f64(),
        outcomes[0].get(),
        outcomes[1].get(),
        outcomes[2].get()
    );
    assert_eq!(failures.get(), 0, "failing cases (printed above)");
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations must leave some files valid, or the run is never reached.
    assert!(
        outcomes[0].get() + outcomes[1].get() > 0,
        "no mutated scenario got as far as a run: {outcomes:?}"
    );
}

/// Runs the binary with `args`, killing it after [`BINARY_WALL_LIMIT`].
fn squall(args: &[&OsStr]) -> Result<i32, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("squall did not start: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return match status.code() {
                    Some(code @ 0..=2) => Ok(code),
                    other => Err(format!("exited with {other:?}\n--- stderr:\n{stderr}")),
                };
            }
            Ok(None) if started.elapsed() > BINARY_WALL_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {BINARY_WALL_LIMIT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for squall: {e}")),
        }
    }
}

#[test]
fn the_binary_exits_0_1_or_2_on_mutated_scenarios() {
    let files = scenarios();
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("mutated.toml");
    let out = dir.path().join("reports");
    let result = runner(BINARY_CASES).run(&case(), |input| {
        let text = mutate(&files, &input);
        std::fs::write(&file, &text).expect("write the mutated scenario");
        let check = squall(&[OsStr::new("check"), file.as_os_str()]);
        let run = squall(&[
            OsStr::new("run"),
            file.as_os_str(),
            OsStr::new("--duration"),
            OsStr::new("300ms"),
            OsStr::new("--out"),
            out.as_os_str(),
        ]);
        for (command, result) in [("check", check), ("run", run)] {
            if let Err(why) = result {
                return Err(TestCaseError::fail(format!(
                    "squall {command} {why}\n--- mutated scenario:\n{text}"
                )));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn mutations_produce_what_they_say() {
    let text = "a = \"1s\"\nb = { c = 2, d = [1.5] }\n";
    let all = sites(text);
    let found: Vec<(&str, Option<&str>, bool)> = all
        .iter()
        .map(|s| (&text[s.value.clone()], s.key.as_deref(), s.inline))
        .collect();
    assert_eq!(
        found,
        [
            ("\"1s\"", Some("a"), false),
            ("{ c = 2, d = [1.5] }", Some("b"), false),
            ("2", Some("c"), true),
            ("[1.5]", Some("d"), true),
            ("1.5", None, false),
        ]
    );
    assert_eq!(
        apply(text, &all[0], &Mutation::Huge),
        "a = \"9999999999999999999s\"\nb = { c = 2, d = [1.5] }\n"
    );
    assert_eq!(
        apply(text, &all[2], &Mutation::Duplicate),
        "a = \"1s\"\nb = { c = 2, c = 2, d = [1.5] }\n"
    );
    assert_eq!(
        apply(text, &all[0], &Mutation::Unknown),
        "a = \"1s\"\nsquall_unknown_key = \"1s\"\nb = { c = 2, d = [1.5] }\n"
    );
    assert_eq!(
        apply(text, &all[4], &Mutation::Zero),
        "a = \"1s\"\nb = { c = 2, d = [0.0] }\n"
    );
    for f in [1.5, -2.0e-300, 1e308, f64::MIN_POSITIVE, 0.0] {
        let written = toml_float(f);
        let parsed: toml::Value = toml::from_str(&format!("x = {written}")).unwrap();
        assert_eq!(parsed["x"].as_float(), Some(f), "{written}");
    }
}
