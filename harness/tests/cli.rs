//! The `squall` binary as users meet it: exit codes, report files, and a
//! clear error (file:line:col, what was expected, exit 2, no panic) for every
//! kind of bad input.

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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A minimal valid scenario; `extra` is appended, `replace` swaps a line.
const BASE: &str = r#"name = "t"
duration = "4s"

[workload]
target = "front"
path = "/"
rate = 50
deadline = "100ms"

[services.front.endpoints."/"]
work = "1ms"
calls = [ { to = "back", path = "/x", timeout = "50ms" } ]

[services.back]
replicas = 2
[services.back.endpoints."/x"]
work = "1ms"

[[invariants]]
kind = "answered"
"#;

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// Runs `squall run` on `body` and expects exit 2 with `expected` in stderr.
fn bad_file(body: &str, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.toml", body);
    let out = squall(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing ran, so nothing was written.
    assert!(!dir.path().join("t").exists());
}

#[test]
fn bad_scenario_files_name_file_line_column_and_exit_2() {
    let cases: &[(&str, &str)] = &[
        // unknown key
        (
            &BASE.replace("replicas = 2", "replica = 2"),
            "bad.toml:15:1: unknown key `replica`",
        ),
        // unknown service in `to`
        (
            &BASE.replace(r#"to = "back""#, r#"to = "bakc""#),
            "bad.toml:12:18: unknown service `bakc` in `to`",
        ),
        // a duration without a unit
        (
            &BASE.replace(r#"duration = "4s""#, r#"duration = "4""#),
            "bad.toml:2:12: expected a duration with a unit",
        ),
        // a fault outside the run
        (
            &format!("{BASE}\n[[faults]]\nkind = \"kill\"\ntarget = \"back-1\"\nat = \"3s\"\nfor = \"5s\"\n"),
            "fault at 3s for 5s ends after the 4s run",
        ),
        // an unknown fault kind, with the hint listing the kinds
        (
            &format!("{BASE}\n[[faults]]\nkind = \"latncy\"\ntarget = \"back\"\nat = \"1s\"\n"),
            "unknown fault kind `latncy`",
        ),
        // an instance that does not exist
        (
            &format!("{BASE}\n[[faults]]\nkind = \"kill\"\ntarget = \"back-3\"\nat = \"1s\"\n"),
            "instance `back-3` does not exist: `back` has 2 replicas",
        ),
        // a call cycle
        (
            &BASE.replace(
                "[services.back.endpoints.\"/x\"]\nwork = \"1ms\"",
                "[services.back.endpoints.\"/x\"]\nwork = \"1ms\"\ncalls = [ { to = \"front\", path = \"/\", timeout = \"10ms\" } ]",
            ),
            "call cycle",
        ),
        // TOML syntax
        (&BASE.replace("rate = 50", "rate = = 50"), "bad.toml:7:8:"),
        // an unknown endpoint
        (&BASE.replace(r#"path = "/x""#, r#"path = "/y""#), "unknown endpoint `/y` on `back`"),
        // a missing required table
        (&BASE.replace("[workload]", "[workloadx]"), "unknown key `workloadx`"),
        // an out-of-range ratio
        (&format!("{BASE}max_ratio = 1.5\n"), "`max_ratio` must be between 0 and 1"),
        // warm-up as long as the run
        (&BASE.replace("rate = 50", "rate = 50\nwarmup = \"4s\""), "warm-up of 4s leaves nothing"),
        // the issue's panic (exit 101 in std's time.rs): a deadline past every limit
        (
            &BASE.replace(r#"deadline = "100ms""#, r#"deadline = "9999999999999999999s""#),
            "bad.toml:8:12: `deadline` must be at most 1h, found 9999999999999999999s",
        ),
    ];
    for (body, expected) in cases {
        bad_file(body, expected);
    }
}

/// The issue's second case: `squall check` printed a fix with a 20-billion-ms
/// timeout instead of refusing the file.
#[test]
fn check_refuses_a_timeout_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let body = BASE.replace(r#"timeout = "50ms""#, r#"timeout = "9999999999999s""#);
    let path = write(dir.path(), "bad.toml", &body);
    let out = squall(&["check", path.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("bad.toml:12:49: `timeout` must be at most 1h, found 9999999999999s"),
        "{stderr}"
    );
    assert!(!stdout.contains("fix:"), "{stdout}");
}

/// `[explore]` is part of the scenario: `squall run`, which never explores,
/// refuses a typo in it at its place all the same, before anything runs.
#[test]
fn run_refuses_a_bad_explore_key_with_its_place() {
    let body = format!("{BASE}\n[explore]\ntargets = [\"back\"]\nmax_fault = 3\n");
    bad_file(
        &body,
        "bad.toml:24:1: unknown key `max_fault`\n  (hint: expected one of `kinds`, `targets`, \
         `min_faults`, `max_faults`,",
    );
    let body = format!("{BASE}\n[explore]\ntargets = [\"bak\"]\n");
    bad_file(&body, "bad.toml:23:12: unknown target `bak`");
}

#[test]
fn a_missing_file_is_bad_input() {
    let out = squall(&["run", "scenarios/no-such-file.toml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("scenarios/no-such-file.toml"), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn loss_in_the_simulator_is_refused_at_load_before_anything_runs() {
    let body = format!(
        "{BASE}\n[[faults]]\nkind = \"loss\"\ntarget = \"back\"\nrate = 0.1\nat = \"1s\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.toml", BASE);
    let path = write(dir.path(), "loss.toml", &body);
    // The good file comes first: it must not run, since the second cannot.
    let out = squall(&[
        "run",
        good.to_str().unwrap(),
        path.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let at = format!(
        "{}:23:8: `loss` is not supported in the simulator",
        path.display()
    );
    assert!(stderr.contains(&at), "{stderr}");
    assert!(stderr.contains("no TCP retransmission"), "{stderr}");
    assert!(stderr.contains("--backend docker"), "{stderr}");
    assert!(!stdout.contains("Running"), "{stdout}");
    // Explore runs in the simulator too, and refuses the same way.
    let out = squall(&["explore", path.to_str().unwrap(), "--cases", "1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&at), "{stderr}");
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "scenarios/card-auth.toml", "--seed", "abc"],
            "invalid value 'abc' for '--seed <N>'",
        ),
        (
            &["run", "scenarios/card-auth.toml", "--duration", "10"],
            "expected a duration with a unit",
        ),
        (
            &["run", "scenarios/card-auth.toml", "--backend", "k8s"],
            "invalid value 'k8s' for '--backend",
        ),
        (
            &["heal", "--run", "r1", "--all"],
            "the argument '--run <ID>' cannot be used with '--all'",
        ),
        // Limits on the command line (docs/scenarios.md, "Limits").
        (
            &["run", "scenarios/card-auth.toml", "--duration", "0s"],
            "the load phase must be longer than 0 and at most 24h, found 0s",
        ),
        (
            &["run", "scenarios/card-auth.toml", "--duration", "25h"],
            "the load phase must be longer than 0 and at most 24h, found 90000s",
        ),
        (
            &[
                "explore",
                "scenarios/card-auth.toml",
                "--duration",
                "9999999999999999999s",
            ],
            "the load phase must be longer than 0 and at most 24h",
        ),
        (
            // 500 requests a second for a day: 43.2 million, over the cap.
            &["run", "scenarios/card-auth.toml", "--duration", "24h"],
            "scenarios/card-auth.toml: with --duration: 500 requests a second for 86400s is \
             43200000 requests, more than the 10000000 one run may offer",
        ),
        (
            &[
                "run",
                "scenarios/card-auth.toml",
                "--seed",
                "18446744073709551616",
            ],
            "invalid value '18446744073709551616' for '--seed <N>'",
        ),
        (&["run", "scenarios/card-auth.toml", "--seed", "-1"], "-1"),
        (&["run"], "required arguments were not provided"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ];
    for (args, expected) in cases {
        let out = squall(args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in\n{stderr}"
        );
    }
}

#[test]
fn help_explains_the_commands_and_exit_codes() {
    let out = squall(&["--help"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("Run scenarios and check their invariants"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Exit codes: 0 every invariant held"),
        "{stdout}"
    );
    let out = squall(&["run", "--help"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("--seed <N>") && stdout.contains("--duration <D>"),
        "{stdout}"
    );
}

#[test]
fn a_passing_run_exits_0_and_writes_every_report_byte_identically_for_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    // A small topology with a restart at 5s: every invariant kind holds.
    let body = BASE.replace("duration = \"4s\"", "duration = \"12s\"\nseed = 5")
        + r#"max_ratio = 0.0

[[invariants]]
kind = "latency"
percentile = 99.0
max = "50ms"

[[invariants]]
kind = "success"
min = 0.99

[[invariants]]
kind = "recovery"
within = "2s"

[[invariants]]
kind = "amplification"
service = "back"
max = 1.1

[[faults]]
kind = "restart"
target = "back-2"
at = "5s"
"#;
    let scenario = write(dir.path(), "ok.toml", &body);
    let args = ["run", scenario.to_str().unwrap(), "--out", out_dir];
    let first = squall(&args);
    let (stdout, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(0), "{stdout}\n{stderr}");
    // The seed is printed first, then one line per invariant and a summary.
    assert!(stdout.starts_with("        Seed  5\n"), "{stdout}");
    assert_eq!(stdout.matches("HELD").count(), 5, "{stdout}");
    assert!(stdout.contains("Summary  5 held, 0 failed"), "{stdout}");
    let second = squall(&args);
    assert_eq!(second.status.code(), Some(0));

    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("t"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "two runs, two directories: {runs:?}");
    for file in [
        "report.json",
        "meta.json",
        "summary.md",
        "junit.xml",
        "latency.hlog",
        "report.html",
    ] {
        assert!(runs[0].join(file).is_file(), "{file} missing");
    }
    for file in ["report.json", "report.html"] {
        let read = |p: &Path| std::fs::read(p.join(file)).unwrap();
        assert_eq!(
            read(&runs[0]),
            read(&runs[1]),
            "{file} differs between runs of one seed"
        );
    }
    let junit = std::fs::read_to_string(runs[0].join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 5, "{junit}");
    let hlog = std::fs::read_to_string(runs[0].join("latency.hlog")).unwrap();
    assert_eq!(
        hlog.lines().filter(|l| !l.starts_with('#')).count(),
        12,
        "one histogram per second"
    );
}

#[test]
fn a_failing_run_exits_1_names_the_failed_invariants_and_the_rerun_command() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("all.xml");
    let out = squall(&[
        "run",
        "scenarios/retry-storm.toml",
        "--out",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for line in [
        "FAILED  answered",
        "FAILED  latency p99",
        "FAILED  amplification db",
        "HELD  recovery",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from\n{stdout}");
    }
    assert!(stdout.contains("worst window 1"), "{stdout}");
    assert!(
        // How squall was started comes first: `cargo run --` under cargo test.
        stdout.contains("Rerun  cargo run -- run scenarios/retry-storm.toml --seed 3"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(junit).unwrap();
    assert_eq!(xml.matches("<failure").count(), 4, "{xml}");
    // The combined file has the totals at its root, as the per-run one does.
    assert!(
        xml.contains(r#"<testsuites name="squall" tests="5" failures="4" errors="0">"#),
        "{xml}"
    );
}

#[test]
fn reports_that_cannot_be_written_are_an_environment_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = write(dir.path(), "file", "not a directory");
    let out = squall(&[
        "run",
        "scenarios/card-auth.toml",
        "--duration",
        "3s",
        "--out",
        blocker.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot write reports"), "{stderr}");
}

/// Ctrl-C (SIGINT) on a simulated run, sent to the real binary: it stops
/// between two simulation steps, writes the reports of what it measured
/// (marked interrupted in report.json, meta.json and summary.md), prints the
/// verdicts of that, and exits 4 as `--help` says, not 130 with nothing.
#[test]
fn ctrl_c_on_a_simulated_run_reports_what_was_measured_and_exits_4() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let out = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Long enough that it cannot finish before the signal lands.
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args([
            "run",
            "scenarios/card-auth.toml",
            "--duration",
            "600s",
            "--out",
        ])
        .arg(out.path())
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("squall starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    // `Running` is printed before the simulation starts.
    while !seen.contains("Running") {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "{seen}");
        seen.push_str(&line);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: a plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    seen.push_str(&rest);
    assert_eq!(status.code(), Some(squall::exit::ABORTED), "{seen}");
    assert!(
        seen.contains("Interrupted  Ctrl-C or SIGTERM after "),
        "{seen}"
    );
    assert!(seen.contains("     Summary  "), "{seen}");

    let run_dir = std::fs::read_dir(out.path().join("card-auth"))
        .unwrap()
        .next()
        .expect("a run directory")
        .unwrap()
        .path();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    let measured = report["workload"]["duration_s"].as_f64().unwrap();
    assert!(measured > 0.0 && measured < 600.0, "{measured}");
    assert_eq!(report["invariants"].as_array().unwrap().len(), 5);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["interrupted"], true);
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(summary.contains("**Interrupted**"), "{summary}");
}

/// `squall completions SHELL` prints a script that knows the subcommands and
/// their options; an unknown shell is bad input.
#[test]
fn completions_know_the_subcommands() {
    let out = squall(&["completions", "bash"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for word in ["explore", "check", "--duration", "--max-amplification"] {
        assert!(
            stdout.contains(word),
            "`{word}` missing from the bash script"
        );
    }
    let out = squall(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}
