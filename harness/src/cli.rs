//! The command line: `squall run` and friends, their help, and how results
//! are printed (results on stdout, progress and diagnostics on stderr).

mod check;
mod diff;
mod execute;
mod explore;
mod gameday;
pub mod panic;
mod progress;
mod suite;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anstream::{eprintln, println};
use anstyle::{AnsiColor, Style};
use clap::{Parser, Subcommand, ValueEnum};

use squall::check::CheckOptions;
use squall::engine::{BackendKind, RunError, Shortening};
use squall::exit;
use squall::report::{self, fmt_duration, Report};
use squall::scenario::{self, Expect, Scenario};

/// Chaos and latency-injection test harness for service topologies.
///
/// squall runs a whole topology of services (described in a scenario file)
/// under open-loop load, kills instances, slows and partitions the network on
/// a schedule, then checks timeout and degradation invariants: does every
/// caller get an answer before its deadline, do answers degrade instead of
/// failing, does the system recover.
///
/// Exit codes: 0 every invariant held, 1 an invariant failed, 2 bad input
/// (scenario file, arguments), 3 environment error, 4 interrupted (Ctrl-C or
/// SIGTERM: a simulated run reports what it measured, a Docker run is healed
/// first), 101 squall panicked (a bug; a Docker run is healed first).
///
/// Each subcommand's --help lists its own exit codes. `SQUALL_LOG=debug`
/// (a tracing filter) shows the backends' diagnostics on stderr.
#[derive(Debug, Parser)]
#[command(name = "squall", version, max_term_width = 100)]
pub struct Cli {
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios and check their invariants.
    ///
    /// Each scenario runs in the deterministic simulator by default: the same
    /// scenario and seed give a byte-identical report.json. Reports go to
    /// reports/<scenario>/<run-id>/ (report.json, meta.json, summary.md,
    /// junit.xml, latency.hlog, report.html). Before each run, the findings of `squall
    /// check` are printed on stderr; they do not stop the run. A scenario's
    /// `expect = "fail"` is printed but does not change the exit code.
    ///
    /// Exit codes: 0 every invariant held, 1 an invariant failed, 2 bad input
    /// (a scenario file, an argument, a fault the backend cannot apply),
    /// 3 environment error (Docker unreachable, an image missing, reports
    /// not writable), 4 interrupted by Ctrl-C or SIGTERM (the reports cover
    /// what was measured until then, marked interrupted).
    Run(RunArgs),
    /// Validate scenarios, then analyse their timeout budgets; runs nothing.
    ///
    /// Walks every call path from the workload's entry down and reports, with
    /// the path, the figures, why it matters and a fix: a callee whose worst
    /// case outlasts its caller's per-attempt timeout (inverted timeouts), an
    /// entry that can outlast the workload's deadline, calls without a
    /// timeout, retries that multiply along a path past --max-amplification,
    /// hedges without a retry budget, and deadline propagation that the hop
    /// above does not forward. See docs/check.md.
    ///
    /// Exit codes: 0 no errors (warnings allowed), 1 at least one error,
    /// 2 bad input (a scenario file or an argument).
    Check(CheckArgs),
    /// Search random fault schedules and shrink the first failure.
    ///
    /// Draws fault schedules from the scenario's `[explore]` section, runs
    /// each on top of the scenario's own faults in the simulator and checks
    /// the invariants. The first failing case is shrunk to a schedule with no
    /// fault to spare and written as a scenario file under `DIR/regressions/`
    /// (with --out DIR) or `regressions/` beside the scenario (without:
    /// so that a regression found on a laptop is a file the test suite runs);
    /// `squall run` on that file fails the same way. The same `--seed`
    /// explores the same cases whatever `--jobs` is.
    ///
    /// Exit codes: 0 no case failed, 1 a failure was found (and written),
    /// 2 bad input (the scenario, its `[explore]` section, an argument),
    /// 3 environment error (a worker died, a file could not be written).
    Explore(ExploreArgs),
    /// Run many scenario files into one directory with one index.html.
    ///
    /// Finds every file the PATHs name (files, directories searched for
    /// `*.toml`, globs), validates them all before anything runs, then runs
    /// each as `squall run` does (--repeat N times) into
    /// DIR/<scenario>/<run>-seed<seed>/ and writes DIR/index.html (every
    /// scenario's verdict, key figures and a link to each report.html),
    /// DIR/junit.xml (the whole suite) and DIR/suite.json. A scenario with
    /// `expect = "fail"` that fails as expected is a documented weakness and
    /// passes; one whose runs disagree is FLAKY. See docs/suites.md.
    ///
    /// Exit codes: the worst of the scenarios': 0 every scenario passed (or
    /// failed as its `expect = "fail"` says), 1 one failed, was flaky, or
    /// passed against its `expect = "fail"`, 2 bad input (any file; nothing
    /// runs), 3 environment error, 4 interrupted by Ctrl-C or SIGTERM.
    Suite(suite::SuiteArgs),
    /// What changed between two runs of one scenario.
    ///
    /// Compares two report.json files (or the run directories holding them):
    /// each invariant's verdict and figure, p99 and success per phase, calls
    /// per offered request per service, wasted work. `--markdown` prints
    /// tables for a pull-request comment.
    ///
    /// Exit codes: 0 no verdict got worse, 1 an invariant that held in RUN_A
    /// failed in RUN_B (so a job can fail on a regression), 2 bad input (a
    /// file that is not a report, runs of two different scenarios).
    Diff(diff::DiffArgs),
    /// Undo every fault squall left on the Docker engine.
    ///
    /// Without options, heals the runs whose squall process is gone (found by
    /// their journals and the engine's `squall.*` labels): unpauses, deletes
    /// nft tables, removes containers and networks.
    ///
    /// Every engine call has a deadline (`SQUALL_ENGINE_TIMEOUT`, default
    /// 30s): on an engine whose networking is wedged, heal exits 3 saying so
    /// instead of hanging.
    ///
    /// Exit codes: 0 healed (or nothing to heal), 3 the engine could not be
    /// reached, stopped answering, or something could not be undone.
    Heal(HealArgs),
    /// Drills against a running system: plan, run, halt, unhalt, status, verify-audit.
    ///
    /// A game day attaches to containers that already run (a compose project
    /// on a staging engine) instead of building a topology. It touches only
    /// containers with two keys (their own `squall.target=true` label and the
    /// file's `allow`), never a `squall.protect=true` one; `plan` shows and
    /// hashes what will be done, `run` refuses if the system changed since,
    /// re-checks each target at its injection, keeps a floor of healthy
    /// replicas, and writes every decision to a hash-chained audit log.
    /// `halt` stops every game day on the engine from any terminal. See
    /// docs/gameday.md.
    ///
    /// Exit codes: 0 held (or done), 1 an invariant failed (verify-audit: the
    /// chain is broken), 2 bad input, a refused plan or the lever pulled,
    /// 3 environment, 4 aborted and healed.
    Gameday(gameday::GamedayArgs),
    /// Which fault mechanisms work against this Docker engine.
    ///
    /// Contacts the engine (`DOCKER_HOST` honoured), checks that its network
    /// API answers within 5s (a wedged engine answers nothing else that
    /// matters), warns about engine versions with a known networking deadlock
    /// (Docker 20.10 before 20.10.27), creates and removes a labelled network
    /// and a probe container, and tries each mechanism the Docker backend uses
    /// (pause, nftables and nsenter in a container's network namespace, which
    /// need root; netem, which is optional). Prints one line per mechanism.
    /// See docs/docker.md.
    ///
    /// Exit codes: 0 every required mechanism works (a warning does not
    /// count), 3 one does not (or the engine cannot be reached or does not
    /// answer).
    Doctor,
    /// Print a shell completion script on stdout.
    ///
    /// For bash: `squall completions bash > ~/.local/share/bash-completion/completions/squall`;
    /// zsh: `squall completions zsh > ~/.zfunc/_squall` (with `~/.zfunc` in
    /// `fpath`); fish: `squall completions fish > ~/.config/fish/completions/squall.fish`.
    ///
    /// Exit codes: 0 printed, 2 an unknown shell.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Scenario files (TOML) to analyse.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
    /// Print the findings as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Calls per request the deepest service of a path may receive in the
    /// worst case (the product of attempts along the path).
    #[arg(long, value_name = "N", default_value_t = 10.0, value_parser = parse_amplification)]
    max_amplification: f64,
}

#[derive(Debug, clap::Args)]
struct ExploreArgs {
    /// Scenario file (TOML) with an `[explore]` section.
    #[arg(value_name = "SCENARIO")]
    scenario: PathBuf,
    /// How many cases (fault schedules) to try, 1 to 1,000,000.
    #[arg(long, value_name = "N", default_value_t = squall::explore::DEFAULT_CASES)]
    cases: u64,
    /// Seed every case derives from; defaults to the scenario's `seed`.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Worker processes running cases in parallel, 1 to 64 (larger values
    /// are lowered to 64); defaults to the cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Run only every N-th case, starting at the I-th (for a CI matrix).
    #[arg(long, value_name = "I/N")]
    shard: Option<squall::explore::Shard>,
    /// Length of each case's load phase, e.g. `10s`; overrides `duration`.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Directory for explore.json (`DIR/<scenario>/`) and the regression file
    /// (`DIR/regressions/`), instead of `reports/` and `regressions/` beside
    /// the scenario.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Internal: run cases read from stdin (used by `--jobs`).
    #[arg(long, hide = true)]
    worker: bool,
}

#[derive(Debug, clap::Args)]
struct HealArgs {
    /// Heal this run (its id is printed when it starts).
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    run: Option<String>,
    /// Heal everything of squall's on the engine, even runs still going.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files (TOML) to run, in order.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<PathBuf>,
    /// Where the run happens: the deterministic simulator, or real containers.
    #[arg(long, value_enum, default_value_t = BackendKind::Sim)]
    backend: BackendKind,
    /// Seed of every random choice; overrides the scenario's `seed`.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Length of the load phase, e.g. `10s`; overrides the scenario's
    /// `duration` (faults after it are left out, faults healing after it last
    /// to the end).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Directory for the reports, instead of `reports/`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write one JUnit XML file covering every scenario run.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

fn parse_amplification(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 1.0 => Ok(n),
        _ => Err(format!(
            "expected a number of calls per request, at least 1 (got `{s}`)"
        )),
    }
}

/// A load-phase length: a duration with a unit, within the limits
/// (`squall::scenario::limits`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let duration = scenario::parse_duration(s).map_err(|e| e.to_string())?;
    scenario::limits::check_duration(duration).map_err(|e| e.to_string())
}

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const NOTE: Style = AnsiColor::Cyan.on_default().bold();

/// Right-aligned verb, as cargo and nextest print it.
fn verb(style: Style, word: &str) -> String {
    format!("{style}{word:>12}{style:#}")
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::HELD
            };
        }
    };
    anstream::ColorChoice::write_global(match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    // Warnings from the backends (an admin endpoint that did not answer, spans that could
    // not be read back) on stderr; `SQUALL_LOG=debug` (an `EnvFilter`) shows more.
    let filter = tracing_subscriber::EnvFilter::try_from_env("SQUALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Check(args) => check::check(&args.scenarios, args.json, args.max_amplification),
        Command::Explore(args) => explore::explore(args),
        Command::Suite(args) => suite::suite(args),
        Command::Diff(args) => diff::diff(args),
        Command::Heal(args) => heal(args),
        Command::Gameday(args) => gameday::gameday(args),
        Command::Doctor => doctor(),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "squall", &mut std::io::stdout());
            exit::HELD
        }
    }
}

fn run(args: RunArgs) -> i32 {
    // Every file is validated before anything runs, so a typo in the third
    // scenario does not surface after two long runs.
    // That includes what the backend cannot do (`loss` in the simulator,
    // `error` on an image of your own).
    let mut scenarios = Vec::new();
    for path in &args.scenarios {
        match scenario::load(path).and_then(|s| args.backend.check(&s).map(|()| s)) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {e}");
                return exit::BAD_INPUT;
            }
        }
    }
    // `--duration` changes how many requests each scenario offers.
    if let Some(duration) = args.duration {
        for s in &scenarios {
            if let Err(e) = scenario::limits::check_requests(s.workload.rate, duration) {
                let path = s.path.display();
                eprintln!("{BAD}error{BAD:#}: {path}: with --duration: {e}");
                return exit::BAD_INPUT;
            }
        }
    }
    // The simulator never awaits a signal: Ctrl-C and SIGTERM set a flag it
    // polls between steps, so the run stops with a report (the Docker backend
    // handles the signals itself, and heals first).
    if args.backend == BackendKind::Sim {
        if let Err(e) = squall::interrupt::install() {
            eprintln!("{NOTE}warning{NOTE:#}: Ctrl-C will not stop cleanly: {e}");
        }
    }
    let mut code = exit::HELD;
    let mut junit_suites = Vec::new();
    // (passed, failed, failed as its `expect = "fail"` says, not run)
    let mut tally = (0, 0, 0, 0);
    for scenario in &scenarios {
        let result = run_one(scenario, &args);
        match result {
            Ok((report, dir)) => {
                if report.held() {
                    tally.0 += 1;
                } else {
                    code = code.max(exit::INVARIANT_FAILED);
                    tally.1 += 1;
                    if scenario.expect == Expect::Fail {
                        tally.2 += 1;
                    }
                }
                junit_suites.push(report::junit::suite(&report));
                let _ = dir;
                if report.interrupted {
                    code = exit::ABORTED;
                    break;
                }
            }
            Err(e) => {
                eprintln!("{BAD}error{BAD:#}: {}: {e}", scenario.path.display());
                code = code.max(e.exit_code());
                tally.3 += 1;
            }
        }
    }
    if scenarios.len() > 1 {
        let (passed, failed, expected, errors) = tally;
        println!(
            "{}  {} scenarios: {passed} passed, {failed} failed ({expected} of them expected to){}",
            verb(
                if failed > expected || errors > 0 {
                    BAD
                } else {
                    GOOD
                },
                "Total"
            ),
            scenarios.len(),
            if errors > 0 {
                format!(", {errors} could not run")
            } else {
                String::new()
            }
        );
    }
    if let Some(path) = &args.junit {
        if let Err(e) = write_junit(path, junit_suites) {
            eprintln!("{BAD}error{BAD:#}: cannot write {}: {e}", path.display());
            code = code.max(exit::ENVIRONMENT);
        }
    }
    code
}

fn run_one(scenario: &Scenario, args: &RunArgs) -> Result<(Report, PathBuf), RunError> {
    let seed = args.seed.unwrap_or(scenario.seed);
    // The seed comes first, so even a run that dies can be replayed.
    println!("{}  {}", verb(NOTE, "Seed"), seed);
    println!(
        "{}  {} ({})",
        verb(NOTE, "Running"),
        scenario.name,
        scenario.path.display()
    );
    // The static analysis first: its findings explain what the run may show,
    // but they do not stop it (the run is the dynamic check of the same thing).
    check::print_findings(scenario, &CheckOptions::default());
    if scenario.invariants.is_empty() {
        eprintln!(
            "{}  {} has no [[invariants]]: the run checks nothing and passes",
            verb(NOTE, "warning"),
            scenario.path.display()
        );
    }
    let shortening = Shortening::of(scenario, args.duration);
    if let Some(s) = &shortening {
        eprintln!(
            "{}  {}: invariants about them may have nothing to judge; --duration {} or more keeps them all",
            verb(NOTE, "Shortened"),
            s.describe(),
            fmt_duration(s.keeps_all)
        );
    }
    let plan = execute::Plan {
        backend: args.backend,
        seed,
        duration: args.duration,
    };
    let judged = execute::judge(scenario, &plan, shortening.as_ref())?;
    let report = &judged.report;

    // The verdicts first: a run whose reports cannot be written (exit 3)
    // still shows what it found.
    if report.interrupted {
        println!(
            "{}  Ctrl-C or SIGTERM after {} of load: the verdicts below judge only what was measured until then",
            verb(BAD, "Interrupted"),
            fmt_duration(judged.load)
        );
    }
    if let Some(behind) = report.workload.behind_sentence() {
        println!("{}  {behind}", verb(BAD, "Behind"));
    }
    print_verdicts(report);
    let base = args.out.clone().unwrap_or_else(|| PathBuf::from("reports"));
    let dir = execute::write(&judged, execute::Dest::Under(&base))?;

    let held = report.invariants.iter().filter(|v| v.held).count();
    let failed = report.invariants.len() - held;
    println!(
        "{}  {held} held, {failed} failed in {} {} ({:.1}s wall)  -> {}/",
        verb(if failed == 0 { GOOD } else { BAD }, "Summary"),
        fmt_duration(judged.load),
        if args.backend == BackendKind::Sim {
            "simulated"
        } else {
            "on docker"
        },
        judged.wall.as_secs_f64(),
        dir.display()
    );
    let judged_failures = report
        .invariants
        .iter()
        .filter(|v| !v.held && v.observed.is_some())
        .count();
    if scenario.expect == Expect::Fail && failed == 0 {
        println!(
            "{}  this scenario expects to fail (`expect = \"fail\"`) but every invariant held",
            verb(NOTE, "Unexpected")
        );
    }
    if failed > 0 {
        if scenario.expect == Expect::Fail && judged_failures > 0 {
            println!(
                "{}  this scenario expects to fail (`expect = \"fail\"`): it documents a weakness",
                verb(NOTE, "Expected")
            );
        } else if scenario.expect == Expect::Fail {
            println!(
                "{}  this scenario expects to fail (`expect = \"fail\"`), but what failed here had nothing to judge",
                verb(NOTE, "Unexpected")
            );
        }
        println!(
            "{}",
            rerun(&scenario.path.display(), seed, args.backend, args.duration)
        );
    }
    let _ = std::io::stdout().flush();
    Ok((judged.report, dir))
}

/// The `Rerun` line: the command that replays a failed run.
pub(crate) fn rerun(
    file: &dyn std::fmt::Display,
    seed: u64,
    backend: BackendKind,
    duration: Option<Duration>,
) -> String {
    format!(
        "{}  {} run {file} --seed {seed}{}{}",
        verb(NOTE, "Rerun"),
        report::invocation(),
        if backend == BackendKind::Docker {
            " --backend docker"
        } else {
            ""
        },
        duration
            .map(|d| format!(" --duration {}", fmt_duration(d)))
            .unwrap_or_default()
    )
}

fn print_verdicts(report: &Report) {
    let width = report
        .invariants
        .iter()
        .map(|v| v.label.len())
        .max()
        .unwrap_or(0);
    for v in &report.invariants {
        let word = if v.held {
            verb(GOOD, "HELD")
        } else {
            verb(BAD, "FAILED")
        };
        println!("{word}  {:width$}  {}", v.label, v.message);
    }
}

/// Writes one JUnit file with a suite per scenario run and the totals.
fn write_junit(path: &Path, suites: Vec<quick_junit::TestSuite>) -> std::io::Result<()> {
    let xml = report::junit::render_suites(suites);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, xml)
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: cannot start the tokio runtime: {e}");
            None
        }
    }
}

fn heal(args: HealArgs) -> i32 {
    use squall::docker::heal::{heal, Which};
    let which = match (args.run, args.all) {
        (Some(run), _) => Which::Run(run),
        (None, true) => Which::All,
        (None, false) => Which::Orphaned,
    };
    let Some(rt) = runtime() else {
        return exit::ENVIRONMENT;
    };
    let result = rt.block_on(async {
        let (docker, _) = squall::docker::connect().await?;
        heal(&docker, &which).await
    });
    match result {
        Ok(healed) => {
            for c in &healed.unpaused {
                println!("{}  {c}", verb(GOOD, "Unpaused"));
            }
            for c in &healed.started {
                println!("{}  game-day target {c}", verb(GOOD, "Started"));
            }
            for t in &healed.tables {
                println!("{}  nft table {t}", verb(GOOD, "Deleted"));
            }
            for c in &healed.containers {
                println!("{}  container {c}", verb(GOOD, "Removed"));
            }
            for n in &healed.networks {
                println!("{}  network {n}", verb(GOOD, "Removed"));
            }
            for j in &healed.journals {
                println!("{}  journal {j}", verb(GOOD, "Removed"));
            }
            println!(
                "{}  {} run(s) healed, nothing of theirs is left on the engine",
                verb(GOOD, "Healed"),
                healed.runs.len()
            );
            exit::HELD
        }
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            exit::ENVIRONMENT
        }
    }
}

fn doctor() -> i32 {
    let Some(rt) = runtime() else {
        return exit::ENVIRONMENT;
    };
    let checks = rt.block_on(squall::docker::doctor::diagnose());
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &checks {
        use squall::docker::doctor::Status;
        let word = match c.status {
            Status::Ok => verb(GOOD, "OK"),
            Status::Failed => verb(BAD, "FAILED"),
            Status::Warning => verb(BAD, "WARNING"),
            Status::Info => verb(NOTE, "INFO"),
        };
        println!("{word}  {:width$}  {}", c.name, c.reason);
    }
    if squall::docker::doctor::healthy(&checks) {
        exit::HELD
    } else {
        exit::ENVIRONMENT
    }
}
