//! `squall suite`: many scenario files, one directory, one index, one exit
//! code. The runs are `squall run`'s ([`super::execute`]); what a suite
//! adds (verdicts across repeats, the index, JUnit, history) is
//! [`squall::suite`]'s. Progress on stderr, results on stdout.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};

use squall::engine::{BackendKind, RunError, Shortening};
use squall::exit;
use squall::report::{self, fmt_duration};
use squall::scenario::{self, Scenario};
use squall::suite::{self, history, Entry, Run, Suite, Verdict};

use super::execute::{self, Dest, Plan};
use super::{verb, BAD, GOOD, NOTE};

const FLAKY: Style = AnsiColor::Magenta.on_default().bold();
const WEAK: Style = AnsiColor::Yellow.on_default().bold();

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:\n  \
    squall suite scenarios/                          every *.toml under scenarios/, in the simulator\n  \
    squall suite 'scenarios/slow-*.toml' --repeat 3  three seeds each; runs that disagree are FLAKY\n  \
    squall suite scenarios/ --backend docker --history nightly-history --out nightly\n\n\
    See docs/suites.md.")]
pub struct SuiteArgs {
    /// Scenario files, directories (every `*.toml` under them) or globs
    /// (quote them: `'scenarios/slow-*.toml'`).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Where the runs happen: the deterministic simulator, or real containers.
    #[arg(long, value_enum, default_value_t = BackendKind::Sim)]
    backend: BackendKind,
    /// Run each scenario N times (1 to 100). In the simulator the runs take
    /// the scenario's seed, then seed+1, seed+2...; on Docker the same seed
    /// each time, so only the real system varies. Runs that disagree make
    /// the scenario FLAKY.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(suite::MAX_REPEAT)))]
    repeat: u32,
    /// Length of every load phase, e.g. `10s`; overrides each scenario's
    /// `duration`.
    #[arg(long, value_name = "D", value_parser = super::parse_duration)]
    duration: Option<Duration>,
    /// The suite's directory: index.html, junit.xml, suite.json and one
    /// directory per scenario and run. Default `reports/suite/<UTC time>/`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Append this suite's verdicts and key figures to DIR/history.jsonl,
    /// and draw each scenario's last 30 suite runs in index.html.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
}

pub fn suite(args: SuiteArgs) -> i32 {
    // Every file is found and validated before anything runs, each bad one
    // reported: a typo in the tenth file should not wait for nine runs.
    let files = match suite::files(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            return exit::BAD_INPUT;
        }
    };
    let mut scenarios = Vec::new();
    let mut bad = 0;
    for path in &files {
        let loaded = scenario::load(path).and_then(|s| args.backend.check(&s).map(|()| s));
        match loaded {
            Ok(s) => {
                if let Some(d) = args.duration {
                    if let Err(e) = scenario::limits::check_requests(s.workload.rate, d) {
                        eprintln!(
                            "{BAD}error{BAD:#}: {}: with --duration: {e}",
                            path.display()
                        );
                        bad += 1;
                        continue;
                    }
                }
                scenarios.push(s);
            }
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        eprintln!(
            "{}  {bad} of {} scenario files are bad input; nothing ran",
            verb(BAD, "Stopped"),
            files.len()
        );
        return exit::BAD_INPUT;
    }
    if args.backend == BackendKind::Sim {
        if let Err(e) = squall::interrupt::install() {
            eprintln!("{NOTE}warning{NOTE:#}: Ctrl-C will not stop cleanly: {e}");
        }
    }
    let started = SystemTime::now();
    let (stamp, rfc3339) = report::utc_stamp(started);
    let dir = args.out.clone().unwrap_or_else(|| {
        execute::unique_dir(&PathBuf::from("reports").join("suite").join(&stamp))
    });
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{BAD}error{BAD:#}: cannot create {}: {e}", dir.display());
        return exit::ENVIRONMENT;
    }
    eprintln!(
        "{}  {} x {} on {} -> {}/",
        verb(NOTE, "Suite"),
        scenarios_word(scenarios.len()),
        args.repeat,
        args.backend,
        dir.display()
    );

    let mut entries = Vec::new();
    let mut interrupted = false;
    let mut taken: Vec<String> = Vec::new();
    for (n, s) in scenarios.iter().enumerate() {
        // Two files may share a scenario name: the second gets `name-2/`.
        let mut sub = s.name.clone();
        let mut k = 2;
        while taken.contains(&sub) {
            sub = format!("{}-{k}", s.name);
            k += 1;
        }
        taken.push(sub.clone());
        let runs = run_scenario(s, &args, &dir, &sub, (n + 1, scenarios.len()));
        let entry = Entry::new(
            s.name.clone(),
            s.path.display().to_string(),
            s.description.clone(),
            s.expect,
            runs,
        );
        print_entry(&entry, &args);
        interrupted = entry.exit_code() == exit::ABORTED;
        entries.push(entry);
        if interrupted {
            break;
        }
    }
    let suite = Suite {
        backend: args.backend,
        repeat: args.repeat,
        started_at: rfc3339,
        entries,
        interrupted,
    };
    let mut code = suite.exit_code();
    let suite_id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let mut trends = Vec::new();
    if let Some(hdir) = &args.history {
        let read = history::append(hdir, &suite, &suite_id).and_then(|()| history::read(hdir));
        match read {
            Ok((records, skipped)) => {
                if skipped > 0 {
                    eprintln!(
                        "{NOTE}warning{NOTE:#}: {}: {skipped} line(s) that are not history records were skipped",
                        hdir.join(history::FILE).display()
                    );
                }
                trends = suite
                    .entries
                    .iter()
                    .map(|e| {
                        history::last(&records, &e.name)
                            .into_iter()
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                    .collect();
            }
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {e}");
                code = code.max(exit::ENVIRONMENT);
            }
        }
    }
    let trend_refs: Vec<Vec<&history::Record>> =
        trends.iter().map(|t| t.iter().collect()).collect();
    let files = [
        ("index.html", suite::index::render(&suite, &trend_refs)),
        ("junit.xml", suite::junit::render(&suite)),
        ("suite.json", suite.to_json()),
    ];
    for (name, text) in files {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            eprintln!(
                "{BAD}error{BAD:#}: cannot write {}: {e}",
                dir.join(name).display()
            );
            code = code.max(exit::ENVIRONMENT);
        }
    }
    let t = suite.tally();
    println!(
        "{}  {}: {}  -> {}",
        verb(
            if suite.exit_code() == exit::HELD {
                GOOD
            } else {
                BAD
            },
            "Suite"
        ),
        scenarios_word(suite.entries.len()),
        t.describe(),
        dir.join("index.html").display()
    );
    code
}

/// Every run of one scenario, each into `DIR/<sub>/<i>-seed<seed>/`.
fn run_scenario(
    s: &Scenario,
    args: &SuiteArgs,
    dir: &std::path::Path,
    sub: &str,
    (n, of): (usize, usize),
) -> Vec<Run> {
    let shortening = Shortening::of(s, args.duration);
    if let Some(cut) = &shortening {
        eprintln!(
            "{}  {}: {}; --duration {} or more keeps them all",
            verb(NOTE, "Shortened"),
            s.name,
            cut.describe(),
            fmt_duration(cut.keeps_all)
        );
    }
    let mut runs = Vec::new();
    for i in 0..args.repeat {
        let seed = suite::seed_of(s.seed, i, args.backend);
        let rel = format!("{sub}/{}-seed{seed}", i + 1);
        eprintln!(
            "{}  [{n}/{of}] {} ({}) seed {seed}{}",
            verb(NOTE, "Running"),
            s.name,
            s.path.display(),
            if args.repeat > 1 {
                format!(", run {} of {}", i + 1, args.repeat)
            } else {
                String::new()
            }
        );
        let plan = Plan {
            backend: args.backend,
            seed,
            duration: args.duration,
        };
        let result = execute::judge(s, &plan, shortening.as_ref())
            .and_then(|j| execute::write(&j, Dest::At(dir.join(&rel))).map(|_| j));
        match result {
            Ok(j) => {
                let held = j.report.invariants.iter().filter(|v| v.held).count();
                let failed = j.report.invariants.len() - held;
                eprintln!(
                    "{}  {held} held, {failed} failed in {} ({:.1}s wall)",
                    if failed == 0 {
                        verb(GOOD, "Held")
                    } else {
                        verb(BAD, "Failed")
                    },
                    fmt_duration(j.load),
                    j.wall.as_secs_f64()
                );
                let interrupted = j.report.interrupted;
                runs.push(Run::judged(&j.report, rel));
                if interrupted {
                    break;
                }
            }
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {}: {e}", s.path.display());
                let code = e.exit_code();
                runs.push(Run::error(seed, rel, e.to_string(), code));
                if matches!(e, RunError::Aborted(_)) {
                    break;
                }
            }
        }
    }
    runs
}

/// The scenario's result line on stdout, and what makes it flaky or failed.
fn print_entry(e: &Entry, args: &SuiteArgs) {
    let style = match e.verdict {
        Verdict::Pass => GOOD,
        Verdict::Weakness => WEAK,
        Verdict::Flaky => FLAKY,
        Verdict::Fail | Verdict::UnexpectedPass | Verdict::Error => BAD,
    };
    let rates = if e.runs.len() > 1 {
        let held = e
            .runs
            .iter()
            .filter(|r| matches!(r.outcome, suite::RunOutcome::Judged { held: true, .. }))
            .count();
        format!(", {held} of {} runs held", e.runs.len())
    } else {
        String::new()
    };
    println!(
        "{}  {}  {}{rates}",
        verb(style, e.verdict.word()),
        e.name,
        e.verdict.meaning()
    );
    for p in e.flaky_invariants() {
        println!("{}  {}  {}", verb(FLAKY, "flaky"), p.label, p.describe());
    }
    if matches!(e.verdict, Verdict::Fail | Verdict::Flaky) {
        if let Some(r) = e
            .runs
            .iter()
            .find(|r| matches!(r.outcome, suite::RunOutcome::Judged { held: false, .. }))
        {
            println!(
                "{}",
                super::rerun(&e.file, r.seed, args.backend, args.duration)
            );
        }
    }
}

/// `1 scenario`, `3 scenarios`.
fn scenarios_word(n: usize) -> String {
    format!("{n} scenario{}", if n == 1 { "" } else { "s" })
}
