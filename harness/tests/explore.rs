//! `squall explore` end to end, through the binary: it finds the weakness of
//! `scenarios/overlap-weakness.toml`, shrinks it to a schedule with no fault
//! to spare, writes a regression that `squall run` fails the same way; the
//! same seed gives the same cases with one job or two; shards split the
//! cases; card-auth survives; bad `[explore]` sections exit 2.
//!
//! Every simulation runs in a process of its own: the CLI, as users run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .arg("--color=never")
        .output()
        .expect("squall runs")
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Copies `name` from scenarios/ into a fresh directory, so the regression is
/// written there.
fn copy_scenario(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(scenarios_dir().join(name), &path).unwrap();
    (dir, path)
}

/// Runs explore and returns its output and its explore.json.
fn explore(scenario: &Path, out: &Path, args: &[&str]) -> (Output, Value) {
    let mut all = vec![
        "explore",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let output = squall(&all);
    let json = find(out, "explore.json")
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .unwrap_or(Value::Null);
    (output, json)
}

fn find(dir: &Path, file: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(f) = find(&p, file) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == file) {
            return Some(p);
        }
    }
    None
}

fn case_numbers(json: &Value) -> Vec<u64> {
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_u64().unwrap())
        .collect()
}

#[test]
fn finds_the_overlap_weakness_shrinks_it_and_the_regression_fails_the_same_way() {
    let (dir1, scenario1) = copy_scenario("overlap-weakness.toml");
    let (dir2, scenario2) = copy_scenario("overlap-weakness.toml");
    let args = ["--seed", "5", "--cases", "30"];
    let (out1, json1) = explore(
        &scenario1,
        &dir1.path().join("reports"),
        &[&args[..], &["--jobs", "1"]].concat(),
    );
    let (out2, json2) = explore(
        &scenario2,
        &dir2.path().join("reports"),
        &[&args[..], &["--jobs", "2"]].concat(),
    );
    assert_eq!(out1.status.code(), Some(1), "{}", text(&out1));
    assert_eq!(out2.status.code(), Some(1), "{}", text(&out2));
    let stdout = String::from_utf8_lossy(&out1.stdout);
    assert!(stdout.starts_with("        Seed  5\n"), "{stdout}");

    // Same seed, same cases and the same shrunk schedule, whatever --jobs is.
    assert_eq!(json1["cases"], json2["cases"]);
    let (f1, f2) = (&json1["failure"], &json2["failure"]);
    for key in [
        "case",
        "run_seed",
        "failed",
        "schedule",
        "shrunk",
        "shrunk_failed",
        "shrink_runs",
    ] {
        assert_eq!(f1[key], f2[key], "{key}");
    }
    assert_eq!(f1["failed"][0]["label"], "answered");
    assert_eq!(f1["failed"][0]["invariant"], 0);
    assert_eq!(f1["target"], 0);
    assert_eq!(f1["verified"], true);
    // Cases run in order up to the first failure, which is the last.
    let numbers = case_numbers(&json1);
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
    assert_eq!(Some(numbers.last().unwrap()), f1["case"].as_u64().as_ref());

    // The regression: `squall run` fails `answered` with it.
    let file = PathBuf::from(f1["regression"].as_str().unwrap());
    // With --out, the regression goes under it, not into the scenario's tree.
    assert_eq!(
        file.parent().unwrap(),
        dir1.path().join("reports").join("regressions")
    );
    assert!(!dir1.path().join("regressions").exists());
    assert!(
        // `cargo run -- run FILE` here: cargo started the tests (report::invocation).
        stdout.contains(&format!(" run {}", file.display())) && stdout.contains("Rerun  "),
        "{stdout}"
    );
    let reports = dir1.path().join("run-reports");
    let run = squall(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("FAILED  answered"),
        "{}",
        text(&run)
    );

    // Minimal: the explored faults (after the scenario's own one) are two,
    // on both db replicas, and removing either makes the run pass.
    let written = std::fs::read_to_string(&file).unwrap();
    let doc: toml_edit::DocumentMut = written.parse().unwrap();
    let faults = doc["faults"].as_array_of_tables().unwrap();
    let own = 1;
    let explored: Vec<String> = faults
        .iter()
        .skip(own)
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(explored.len(), 2, "{written}");
    assert!(explored.contains(&"db-1".to_owned()) && explored.contains(&"db-2".to_owned()));
    for i in own..faults.len() {
        let mut less = doc.clone();
        less["faults"].as_array_of_tables_mut().unwrap().remove(i);
        let path = dir1.path().join(format!("without-{i}.toml"));
        std::fs::write(&path, less.to_string()).unwrap();
        let run = squall(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
        ]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "removing fault {i} still fails:\n{}",
            text(&run)
        );
    }
}

#[test]
fn card_auth_survives_and_shards_split_the_cases() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenarios_dir().join("card-auth.toml");
    let common = [
        "--seed",
        "11",
        "--cases",
        "6",
        "--duration",
        "8s",
        "--jobs",
        "2",
    ];
    let (out, all) = explore(&scenario, &dir.path().join("all"), &common);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(all["failures"], 0);
    assert_eq!(case_numbers(&all), vec![0, 1, 2, 3, 4, 5]);
    // Swarm testing: cases do not all enable the same kinds.
    let kinds: std::collections::BTreeSet<String> = all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kinds"].to_string())
        .collect();
    assert!(kinds.len() > 1, "{kinds:?}");

    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out_dir = dir.path().join(shard.replace('/', "-of-"));
        let (out, json) = explore(
            &scenario,
            &out_dir,
            &[&common[..], &["--shard", shard]].concat(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        seen.extend(json["cases"].as_array().unwrap().iter().cloned());
    }
    seen.sort_by_key(|c| c["case"].as_u64());
    assert_eq!(
        &Value::Array(seen),
        &all["cases"],
        "shards cover every case once, identically"
    );
}

#[test]
fn bad_explore_sections_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let card = std::fs::read_to_string(scenarios_dir().join("card-auth.toml")).unwrap();
    let cases = [
        (
            "none.toml",
            card.replace("[explore]", "[nothing]")
                .split("[nothing]")
                .next()
                .unwrap()
                .to_owned(),
            "has no `[explore]` section",
        ),
        (
            "kind.toml",
            card.replace("\"isolate\"]", "\"isolat\"]"),
            "unknown fault kind `isolat`",
        ),
        (
            "key.toml",
            card.replace("max_faults = 3", "max_fault = 3"),
            "unknown key `max_fault`\n  (hint: expected one of `kinds`, `targets`, `min_faults`, `max_faults`,",
        ),
        (
            "target.toml",
            card.replace("\"merchant\"]\nmax", "\"merchnt\"]\nmax"),
            "unknown target `merchnt`",
        ),
    ];
    for (name, body, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = squall(&["explore", path.to_str().unwrap(), "--cases", "1"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{name}: {stderr}");
        if name != "none.toml" {
            // file:line:col
            assert!(stderr.contains(&format!("{name}:")), "{stderr}");
        }
    }
    let out = squall(&["explore", "nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = squall(&[
        "explore",
        scenarios_dir().join("card-auth.toml").to_str().unwrap(),
        "--shard",
        "3/2",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// Two `latency p99` invariants, one over the baseline (held) and one over
/// the faults (failed): the same label, told apart by their index in
/// `[[invariants]]`. Explore reports, shrinks for and checks the second only.
#[test]
fn two_invariants_with_one_label_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("two-p99.toml");
    std::fs::write(
        &scenario,
        r#"duration = "8s"
seed = 1
[workload]
target = "api"
path = "/get"
rate = 50
deadline = "500ms"
warmup = "1s"
[services.api.endpoints."/get"]
calls = [{ to = "db", path = "/read", timeout = "400ms" }]
[services.db.endpoints."/read"]
work = "1ms"

[[invariants]]
kind = "latency"
percentile = 99.0
max = "80ms"
during = "baseline"

[[invariants]]
kind = "latency"
percentile = 99.0
max = "80ms"
during = "faults"

[explore]
kinds = ["latency"]
targets = ["db"]
max_faults = 2
length = ["1s", "2s"]
delay = ["100ms", "200ms"]
settle = "2s"
"#,
    )
    .unwrap();
    let (out, json) = explore(
        &scenario,
        &dir.path().join("reports"),
        &["--cases", "2", "--jobs", "1"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let latency_p99_during_faults = serde_json::json!([{ "invariant": 1, "label": "latency p99" }]);
    for case in json["cases"].as_array().unwrap() {
        if !case["failed"].as_array().unwrap().is_empty() {
            assert_eq!(case["failed"], latency_p99_during_faults, "{case}");
        }
    }
    let failure = &json["failure"];
    assert_eq!(failure["failed"], latency_p99_during_faults);
    assert_eq!(failure["shrunk_failed"], latency_p99_during_faults);
    assert_eq!(failure["target"], 1);
    assert_eq!(failure["verified"], true, "{}", text(&out));
    assert_eq!(json["format"], 2);
}
