//! `squall suite`, `--repeat`, `--history` and `squall diff` as users meet
//! them: the index's rows, the suite's JUnit and exit code, pass rates and
//! flaky verdicts, trend lines after two nights, and a diff whose figures
//! moved. Every run is short (a few simulated seconds of a small topology).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("NO_COLOR", "1")
        .output()
        .expect("squall starts")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small topology with no fault; `invariants` are appended.
fn scenario(name: &str, head: &str, invariants: &str) -> String {
    format!(
        r#"name = "{name}"
duration = "4s"
{head}

[workload]
target = "front"
path = "/"
rate = 50
deadline = "100ms"

[services.front.endpoints."/"]
work = "1ms"
calls = [ {{ to = "back", path = "/x", timeout = "50ms" }} ]

[services.back]
replicas = 2
[services.back.endpoints."/x"]
work = "1ms"

{invariants}"#
    )
}

const HOLDS: &str = "[[invariants]]\nkind = \"answered\"\nmax_ratio = 0.0\n";
/// Two hops of 1 ms each: p99 cannot be under 1 ms.
const FAILS: &str = "[[invariants]]\nkind = \"latency\"\npercentile = 99.0\nmax = \"1ms\"\n";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `<tr class="scenario ...">` row of `name` in an index.
fn row<'a>(index: &'a str, name: &str) -> &'a str {
    let marker = format!("<strong>{name}</strong>");
    index
        .split("<tr class=\"scenario ")
        .skip(1)
        .find(|r| r.contains(&marker))
        .unwrap_or_else(|| panic!("no row for {name} in\n{index}"))
}

#[test]
fn a_suite_runs_a_directory_into_one_index_junit_and_the_worst_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("scenarios");
    write(&files, "pass.toml", &scenario("pass", "", HOLDS));
    write(&files, "nested/fail.toml", &scenario("fail", "", FAILS));
    write(
        &files,
        "weak.toml",
        &scenario("weak", "expect = \"fail\"", &format!("{HOLDS}\n{FAILS}")),
    );
    write(&files, "notes.md", "not a scenario");
    let out = tmp.path().join("suite");
    let o = squall(&[
        "suite",
        files.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let all = text(&o);
    // `fail` fails: the suite exits 1. The weakness alone would not.
    assert_eq!(o.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("        PASS  pass  every invariant held"),
        "{all}"
    );
    assert!(
        stdout.contains("        FAIL  fail  an invariant failed"),
        "{all}"
    );
    assert!(
        stdout.contains("    WEAKNESS  weak  documented weakness"),
        "{all}"
    );
    assert!(stdout.contains("       Rerun  "), "{all}");
    assert!(
        stdout.contains(
            "3 scenarios: 1 passed, 1 documented weakness (failed as expected), 1 failed"
        ),
        "{all}"
    );
    // Progress on stderr, one line per run.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.matches("     Running  [").count(), 3, "{all}");

    // One directory per scenario and run, each with its report.html.
    for (name, seed) in [("pass", 1), ("fail", 1), ("weak", 1)] {
        let run = out.join(name).join(format!("1-seed{seed}"));
        assert!(run.join("report.html").is_file(), "{}", run.display());
        assert!(run.join("report.json").is_file());
    }
    let index = read(&out.join("index.html"));
    assert!(index.starts_with("<!DOCTYPE html>"));
    for banned in ["http://", "https://", "<script", "<link", "<img", " src="] {
        assert!(!index.contains(banned), "index.html contains `{banned}`");
    }
    assert_eq!(index.matches("<tr class=\"scenario ").count(), 3);
    assert!(row(&index, "pass").contains("<span class=\"badge pass\""));
    assert!(row(&index, "pass").contains("1 of 1 held"));
    assert!(row(&index, "pass").contains("<a href=\"pass/1-seed1/report.html\">seed 1</a>"));
    assert!(row(&index, "fail").contains(">FAIL</span>"));
    assert!(row(&index, "fail").contains(
        "<span class=\"failed\" title=\"held in 0 of 1 runs\">failed</span> latency p99"
    ));
    assert!(row(&index, "weak").contains("<span class=\"badge weakness\""));
    assert!(row(&index, "weak").contains(">DOCUMENTED WEAKNESS</span>"));
    assert!(index.contains("<h1>squall suite <span class=\"badge fail\">FAIL</span></h1>"));

    // One JUnit file: the weakness's failure is skipped, not failed.
    let junit = read(&out.join("junit.xml"));
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    assert!(
        junit.contains("<skipped message=\"documented weakness (expect = &quot;fail&quot;)"),
        "{junit}"
    );
    assert_eq!(junit.matches("<failure ").count(), 1, "{junit}");
    let json: serde_json::Value = serde_json::from_str(&read(&out.join("suite.json"))).unwrap();
    assert_eq!(json["entries"][0]["verdict"], "fail");

    // Without the failing file the suite passes: a weakness counts as a pass.
    let o = squall(&[
        "suite",
        files.join("pass.toml").to_str().unwrap(),
        files.join("weak.toml").to_str().unwrap(),
        "--out",
        tmp.path().join("suite2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn bad_input_in_any_file_stops_the_suite_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write(tmp.path(), "good.toml", &scenario("good", "", HOLDS));
    let bad = write(
        tmp.path(),
        "bad.toml",
        &scenario("bad", "", HOLDS).replace("rate = 50", "rate = 50\nrat = 1"),
    );
    let out = tmp.path().join("suite");
    let o = squall(&[
        "suite",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    let line = bad.display().to_string() + ":9:1: unknown key `rat`";
    assert!(all.contains(&line), "{all}");
    assert!(
        all.contains("1 of 2 scenario files are bad input; nothing ran"),
        "{all}"
    );
    assert!(!out.exists(), "nothing may run or be written");

    let o = squall(&["suite", tmp.path().join("none-*.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("no file matches it as a glob"),
        "{}",
        text(&o)
    );
    let o = squall(&["suite", good.to_str().unwrap(), "--repeat", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn repeats_report_pass_rates_and_runs_that_disagree_are_flaky() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "steady.toml",
        &scenario("steady", "seed = 7", HOLDS),
    );
    // About 5% of `back`'s answers are errors, and `success` wants 95%:
    // whether it holds depends on the seed's draw.
    let coin = scenario(
        "coin",
        "seed = 1",
        "[[invariants]]\nkind = \"success\"\nmin = 0.95\n",
    )
    .replace(
        "work = \"1ms\"\n\n",
        "work = \"1ms\"\nerror_rate = 0.05\n\n",
    );
    assert!(coin.contains("error_rate"));
    write(tmp.path(), "coin.toml", &coin);
    let out = tmp.path().join("suite");
    let o = squall(&[
        "suite",
        tmp.path().to_str().unwrap(),
        "--repeat",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    // The simulator's repeats take seed, seed+1, ...
    for seed in 7..11 {
        let run = out.join("steady").join(format!("{}-seed{seed}", seed - 6));
        assert!(
            run.join("report.html").is_file(),
            "{}\n{all}",
            run.display()
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("        PASS  steady  every invariant held, 4 of 4 runs held"),
        "{all}"
    );
    assert!(
        stdout.contains("       FLAKY  coin  flaky: the runs disagree"),
        "{all}"
    );
    assert!(stdout.contains("       flaky  success  held in "), "{all}");

    let json: serde_json::Value = serde_json::from_str(&read(&out.join("suite.json"))).unwrap();
    let entries = json["entries"].as_array().unwrap();
    let coin = entries.iter().find(|e| e["name"] == "coin").unwrap();
    assert_eq!(coin["verdict"], "flaky");
    let rate = &coin["pass_rates"][0];
    assert_eq!(rate["runs"], 4);
    let held = rate["held"].as_u64().unwrap();
    assert!((1..4).contains(&held), "{rate}");
    let steady = entries.iter().find(|e| e["name"] == "steady").unwrap();
    assert_eq!(steady["pass_rates"][0]["held"], 4);

    let index = read(&out.join("index.html"));
    assert!(row(&index, "coin").contains("<span class=\"badge flaky\""));
    assert!(row(&index, "coin").contains(&format!(
        "<span class=\"flaky\" title=\"held in {held} of 4 runs\">FLAKY {held}/4</span> success"
    )));
    let junit = read(&out.join("junit.xml"));
    assert!(
        junit.contains(&format!(
            "type=\"flaky\" message=\"flaky: held in {held} of 4 runs"
        )) || junit.contains(&format!("message=\"flaky: held in {held} of 4 runs")),
        "{junit}"
    );
    assert!(junit.contains("type=\"flaky\""), "{junit}");
}

#[test]
fn history_draws_trend_lines_from_the_second_suite_run_on() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "a.toml", &scenario("a", "", HOLDS));
    let history = tmp.path().join("history");
    let night = |n: &str| {
        let out = tmp.path().join(n);
        let o = squall(&[
            "suite",
            file.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        read(&out.join("index.html"))
    };
    let first = night("night1");
    assert!(first.contains("<svg class=\"strip\""), "{first}");
    assert!(first.contains("trend lines from the second run on"));
    assert!(!first.contains("<svg class=\"spark"));
    let second = night("night2");
    assert!(second.contains("<th>last 30 suite runs</th>"));
    assert_eq!(
        second.matches("<rect class=\"pass\"").count(),
        2,
        "{second}"
    );
    assert!(second.contains("<svg class=\"spark p99\""), "{second}");
    assert!(second.contains("<svg class=\"spark success\""), "{second}");
    assert!(second.contains("p99 over the last 2 suite runs"));
    let lines = read(&history.join("history.jsonl"));
    assert_eq!(lines.lines().count(), 2);
    let record: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(record["scenario"], "a");
    assert_eq!(record["verdict"], "pass");
    assert!(record["figures"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(record["figures"]["success"].as_f64().unwrap() > 0.99);
}

#[test]
fn diff_of_two_seeds_of_card_auth_shows_what_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let mut dirs = Vec::new();
    for seed in ["1", "2"] {
        let o = squall(&[
            "run",
            "scenarios/card-auth.toml",
            "--seed",
            seed,
            "--duration",
            "35s",
            "--out",
            out,
        ]);
        assert!(o.status.code().is_some(), "{}", text(&o));
        let runs: Vec<PathBuf> = std::fs::read_dir(tmp.path().join("card-auth"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(&format!("-seed{seed}")))
            .collect();
        assert_eq!(runs.len(), 1);
        dirs.push(runs[0].clone());
    }
    let (a, b) = (dirs[0].to_str().unwrap(), dirs[1].to_str().unwrap());
    let o = squall(&["diff", a, b]);
    let all = text(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.starts_with("        Diff  card-auth\n"), "{all}");
    assert!(stdout.contains("           A  seed 1 (sim, "), "{all}");
    assert!(stdout.contains("           B  seed 2 (sim, "), "{all}");
    assert!(stdout.contains("       Moved  p99 baseline "), "{all}");
    assert!(stdout.contains(" -> "), "{all}");
    assert!(stdout.contains("calls per request ledger"), "{all}");
    assert!(stdout.contains("     Summary  "), "{all}");
    let moved = stdout.matches("       Moved  ").count();
    assert!(moved >= 3, "{all}");

    let md = squall(&["diff", a, &format!("{b}/report.json"), "--markdown"]);
    let md_out = String::from_utf8_lossy(&md.stdout);
    assert!(
        md_out.starts_with("### squall diff: card-auth\n"),
        "{}",
        text(&md)
    );
    assert!(md_out.contains("| figure | A | B | change |"));
    assert!(md_out.contains("| p99 all | "));

    // A run against itself: nothing moved, exit 0.
    let same = squall(&["diff", a, a]);
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 invariant(s) got worse, 0 of "));

    // Two scenarios, or no report: bad input.
    let other = write(
        tmp.path(),
        "other/report.json",
        &read(&dirs[0].join("report.json")).replacen("\"card-auth\"", "\"other\"", 1),
    );
    let o = squall(&["diff", a, other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("different scenarios: `card-auth` and `other`"),
        "{}",
        text(&o)
    );
    let o = squall(&["diff", a, tmp.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_worse_verdict_makes_diff_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write(tmp.path(), "a.toml", &scenario("a", "", HOLDS));
    let run = |file: &Path, out: &str| {
        let o = squall(&[
            "suite",
            file.to_str().unwrap(),
            "--out",
            tmp.path().join(out).to_str().unwrap(),
        ]);
        assert!(o.status.code().is_some());
        tmp.path().join(out).join("a").join("1-seed1")
    };
    let a = run(&good, "one");
    // The same run with its verdict flipped, as a later night that failed.
    let b = tmp.path().join("two");
    std::fs::create_dir_all(&b).unwrap();
    let flipped = read(&a.join("report.json")).replacen("\"held\": true", "\"held\": false", 1);
    std::fs::write(b.join("report.json"), flipped).unwrap();
    let o = squall(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("       Worse  answered"),
        "{}",
        text(&o)
    );
}
