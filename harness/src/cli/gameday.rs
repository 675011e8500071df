//! `squall gameday`: plan, run, halt, unhalt, status and verify-audit, the
//! commands of a drill against a running system ([`squall::gameday`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anstream::{eprintln, println};

use squall::docker::abort::Armed;
use squall::engine::{BackendKind, RunError};
use squall::exit;
use squall::gameday::audit::{self, Audit, Event};
use squall::gameday::plan::{self, Plan, Planned, Role};
use squall::gameday::{attach, discover, halt};
use squall::report::fmt_duration;
use squall::scenario::{self, Scenario};

use super::{execute, print_verdicts, runtime, verb, BAD, GOOD, NOTE};

#[derive(Debug, clap::Args)]
pub struct GamedayArgs {
    /// The audit log every game-day command appends to (hash-chained JSON
    /// lines); defaults to `$XDG_STATE_HOME/squall/audit.jsonl`
    /// (`~/.local/state/squall/audit.jsonl`).
    #[arg(long, value_name = "FILE", global = true)]
    audit: Option<PathBuf>,
    #[command(subcommand)]
    command: GamedayCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GamedayCommand {
    /// Show what a drill would do, and write it as a plan file; touches nothing.
    ///
    /// Finds the containers of the file's `[gameday]` project (or label
    /// filter), decides which ones may be touched (their own
    /// `squall.target=true` label and the file's `allow`; never one labelled
    /// `squall.protect=true`), picks each fault's targets from the seed, and
    /// checks the limits. Prints every container's role and every refusal
    /// with its reason, each fault with its mechanism, and the plan's hash;
    /// writes the plan as JSON for review. Only lists and reads: no
    /// container, namespace or network is changed.
    ///
    /// Exit codes: 0 planned, 2 bad input or a rail refuses the plan (each
    /// at its file:line:col), or the halt lever is pulled, 3 the engine
    /// cannot be reached.
    Plan {
        /// Scenario file with a `[gameday]` section.
        #[arg(value_name = "FILE")]
        scenario: PathBuf,
        /// Where the plan goes.
        #[arg(long, value_name = "FILE", default_value = "plan.json")]
        out: PathBuf,
        /// Seed that picks each fault's targets; defaults to the file's `seed`.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// Run a reviewed plan: refuses if the system no longer matches it.
    ///
    /// Makes the plan again from what runs now and refuses unless its hash
    /// is the reviewed plan's (a container relabelled, replaced or
    /// redeployed since, a changed file or seed). Then drives the workload
    /// and applies the faults on schedule; before each injection the target
    /// is inspected again (skipped and audited if it changed) and the limits
    /// are counted against the replicas healthy at that moment. `squall
    /// gameday halt`, Ctrl-C or SIGTERM heal everything and exit 4. Reports
    /// go where `squall run` puts them, with the plan beside them.
    ///
    /// Exit codes: 0 every invariant held, 1 one failed, 2 bad input, the
    /// plan does not match or the lever is pulled, 3 environment (the
    /// engine, a target that vanished), 4 aborted (halt, Ctrl-C, SIGTERM)
    /// and healed.
    Run {
        /// Scenario file with a `[gameday]` section.
        #[arg(value_name = "FILE")]
        scenario: PathBuf,
        /// The plan `squall gameday plan` wrote and people reviewed.
        #[arg(long, value_name = "FILE")]
        plan: PathBuf,
        /// Base directory for reports.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Pull the halt lever: every game day on this engine heals and stops.
    ///
    /// The lever is a labelled volume on the engine (`squall-gameday-halt`),
    /// so it works from any terminal that reaches the engine. Running game
    /// days see it within a quarter of a second, heal every fault and exit 4;
    /// `plan` and `run` refuse until `squall gameday unhalt`.
    ///
    /// Exit codes: 0 pulled (or already pulled), 3 the engine cannot be reached.
    Halt {
        /// Why, for the audit log and the people who see the lever.
        #[arg(
            long,
            value_name = "TEXT",
            default_value = "halted from the command line"
        )]
        reason: String,
    },
    /// Lift the halt lever.
    ///
    /// Exit codes: 0 lifted (or was not pulled), 3 the engine cannot be reached.
    Unhalt,
    /// The lever, and the game days and runs this machine's journals know of.
    ///
    /// Exit codes: 0 shown, 3 the engine cannot be reached.
    Status,
    /// Check an audit log's hash chain.
    ///
    /// Every line carries the hash of the line before it and its own; an
    /// edited, removed, inserted or reordered line breaks the chain at that
    /// line. Prints the number of lines and the last hash (compare it with
    /// the one a report records to see that nothing was cut off the end).
    ///
    /// Exit codes: 0 the chain holds, 1 it is broken (the line and why),
    /// 2 the file cannot be read.
    VerifyAudit {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// The default audit log: beside the journals.
fn default_audit() -> PathBuf {
    let journals = squall::docker::journal::dir();
    journals
        .parent()
        .map_or_else(|| PathBuf::from("audit.jsonl"), |d| d.join("audit.jsonl"))
}

pub fn gameday(args: GamedayArgs) -> i32 {
    let audit_path = args.audit.clone().unwrap_or_else(default_audit);
    match args.command {
        GamedayCommand::Plan {
            scenario,
            out,
            seed,
        } => plan_command(&scenario, &out, seed, &audit_path),
        GamedayCommand::Run {
            scenario,
            plan,
            out,
        } => run_command(&scenario, &plan, out, &audit_path),
        GamedayCommand::Halt { reason } => halt_command(&reason, &audit_path),
        GamedayCommand::Unhalt => unhalt_command(&audit_path),
        GamedayCommand::Status => status_command(),
        GamedayCommand::VerifyAudit { file } => verify_command(&file),
    }
}

/// Why a game-day command stopped, as its exit code and what to print.
struct Stop(i32, String);

impl From<squall::docker::DockerError> for Stop {
    fn from(e: squall::docker::DockerError) -> Self {
        Stop(exit::ENVIRONMENT, e.to_string())
    }
}

impl From<audit::AuditError> for Stop {
    fn from(e: audit::AuditError) -> Self {
        Stop(exit::ENVIRONMENT, e.to_string())
    }
}

fn report(result: Result<i32, Stop>) -> i32 {
    match result {
        Ok(code) => code,
        Err(Stop(code, message)) => {
            eprintln!("{BAD}error{BAD:#}: {message}");
            code
        }
    }
}

/// Loads a game-day file: bad input unless it has a `[gameday]` section.
fn load(path: &Path) -> Result<(Scenario, Vec<u8>), Stop> {
    let scenario = scenario::load(path).map_err(|e| Stop(exit::BAD_INPUT, e.to_string()))?;
    if scenario.gameday.is_none() {
        return Err(Stop(
            exit::BAD_INPUT,
            format!(
                "{}: has no `[gameday]` section (hint: docs/gameday.md shows one; a file without it runs with `squall run`)",
                path.display()
            ),
        ));
    }
    let text = std::fs::read(path).map_err(|e| {
        Stop(
            exit::BAD_INPUT,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok((scenario, text))
}

/// Discovers and plans, refusing while the lever is pulled.
async fn make_plan(
    docker: &bollard::Docker,
    scenario: &Scenario,
    text: &[u8],
    seed: u64,
) -> Result<Planned, Stop> {
    if let Some(h) = halt::halted(docker).await? {
        return Err(Stop(
            exit::BAD_INPUT,
            format!("game days are halted on this engine ({h}) (hint: `squall gameday unhalt` once it is safe)"),
        ));
    }
    let Some(gameday) = &scenario.gameday else {
        return Err(Stop(exit::BAD_INPUT, "no `[gameday]` section".to_owned()));
    };
    let candidates = discover::candidates(docker, gameday).await?;
    plan::make(&plan::Inputs {
        scenario,
        gameday,
        text,
        candidates: &candidates,
        seed,
        duration: scenario.duration,
        engine: squall::docker::engine_host(),
    })
    .map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Stop(
            exit::BAD_INPUT,
            format!("the plan is refused:\n{}", all.join("\n")),
        )
    })
}

fn plan_command(path: &Path, out: &Path, seed: Option<u64>, audit_path: &Path) -> i32 {
    report((|| {
        let (scenario, text) = load(path)?;
        let seed = seed.unwrap_or(scenario.seed);
        let rt = runtime().ok_or_else(|| Stop(exit::ENVIRONMENT, "no runtime".to_owned()))?;
        let planned = rt.block_on(async {
            let (docker, _) = squall::docker::connect().await?;
            make_plan(&docker, &scenario, &text, seed).await
        })?;
        print_plan(&planned.plan);
        let json = serde_json::to_string_pretty(&planned.plan).unwrap_or_default() + "\n";
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Stop(
                    exit::ENVIRONMENT,
                    format!("cannot write {}: {e}", out.display()),
                )
            })?;
        }
        std::fs::write(out, json).map_err(|e| {
            Stop(
                exit::ENVIRONMENT,
                format!("cannot write {}: {e}", out.display()),
            )
        })?;
        let mut audit = Audit::open(audit_path, "")?;
        audit.set_plan(&planned.plan.hash);
        audit.write(
            Event::Plan,
            "",
            &format!(
                "{}: {} target(s), {} refused, seed {seed}",
                path.display(),
                planned
                    .plan
                    .instances
                    .iter()
                    .filter(|i| i.role == Role::Target)
                    .count(),
                planned.plan.refused.len()
            ),
        )?;
        println!(
            "{}  {} (review it, then: squall gameday run {} --plan {})",
            verb(GOOD, "Wrote"),
            out.display(),
            path.display(),
            out.display()
        );
        Ok(exit::HELD)
    })())
}

/// The plan for people: roles, refusals, faults, limits, hash.
fn print_plan(p: &Plan) {
    let targets = p
        .instances
        .iter()
        .filter(|i| i.role == Role::Target)
        .count();
    println!(
        "{}  {}: {targets} target(s), {} refused, {} fault(s) on {} (network {})",
        verb(NOTE, "Planned"),
        p.scenario,
        p.refused.len(),
        p.faults.len(),
        p.engine,
        p.network
    );
    for i in &p.instances {
        let word = match i.role {
            Role::Target => verb(NOTE, "Target"),
            Role::Spare => verb(GOOD, "Spare"),
            Role::Peer => verb(GOOD, "Peer"),
        };
        println!(
            "{word}  {:<12} {} ({}) {}:{}",
            i.instance,
            i.container,
            plan::short(&i.id),
            i.address,
            i.port
        );
    }
    for r in &p.refused {
        println!(
            "{}  {} ({}): {}",
            verb(GOOD, "Refused"),
            r.container,
            plan::short(&r.id),
            r.reason
        );
    }
    for f in &p.faults {
        let window = match f.end_ms {
            Some(end) if end != f.start_ms => format!(
                "{}..{}",
                fmt_duration(std::time::Duration::from_millis(f.start_ms)),
                fmt_duration(std::time::Duration::from_millis(end))
            ),
            _ => fmt_duration(std::time::Duration::from_millis(f.start_ms)),
        };
        println!(
            "{}  #{} {window} {} -> {}\n           {}",
            verb(NOTE, "Fault"),
            f.index + 1,
            f.detail,
            f.targets.join(", "),
            f.mechanism
        );
    }
    let l = &p.limits;
    let floor: Vec<String> = l
        .floor
        .iter()
        .map(|(s, (now, fewest))| format!("{s} {fewest} of {now}"))
        .collect();
    println!(
        "{}  at most {} at once (the plan takes {}); keep {} healthy (fewest left untouched: {}); max_for {}; network faults lift {} after squall dies",
        verb(NOTE, "Limits"),
        l.instances_at_once,
        l.most_at_once,
        l.keep_healthy,
        floor.join(", "),
        fmt_duration(std::time::Duration::from_millis(l.max_for_ms)),
        fmt_duration(std::time::Duration::from_millis(l.lease_ms))
    );
    println!("{}  {}", verb(NOTE, "Hash"), p.hash);
}

fn run_command(path: &Path, plan_path: &Path, out: Option<PathBuf>, audit_path: &Path) -> i32 {
    report((|| {
        let (scenario, text) = load(path)?;
        let reviewed: Plan = std::fs::read(plan_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| {
                Stop(
                    exit::BAD_INPUT,
                    format!("cannot read the plan {}: {e}", plan_path.display()),
                )
            })?;
        if reviewed.digest() != reviewed.hash {
            return Err(Stop(
                exit::BAD_INPUT,
                format!("{} was edited after it was made: its content does not hash to its `hash` (hint: make it again with `squall gameday plan`)", plan_path.display()),
            ));
        }
        let rt = runtime().ok_or_else(|| Stop(exit::ENVIRONMENT, "no runtime".to_owned()))?;
        let (docker, planned) = rt.block_on(async {
            let (docker, _) = squall::docker::connect().await?;
            let planned = make_plan(&docker, &scenario, &text, reviewed.seed).await?;
            Ok::<_, Stop>((docker, planned))
        })?;
        drop(rt);
        let run = squall::docker::run::new_run_id();
        let mut audit = Audit::open(audit_path, &run)?;
        audit.set_plan(&planned.plan.hash);
        if planned.plan.hash != reviewed.hash {
            let differences = planned.plan.differences(&reviewed);
            audit.write(
                Event::Abort,
                "",
                &format!(
                    "refused: the system no longer matches the plan: {}",
                    differences.join("; ")
                ),
            )?;
            return Err(Stop(
                exit::BAD_INPUT,
                format!(
                    "the system no longer matches the reviewed plan {} (hash {} now, {} reviewed):\n  {}\n  (hint: nothing was touched; make and review a new plan with `squall gameday plan`)",
                    plan_path.display(),
                    plan::short(&planned.plan.hash),
                    plan::short(&reviewed.hash),
                    differences.join("\n  ")
                ),
            ));
        }
        for r in &planned.plan.refused {
            audit.write(Event::TargetRefused, &r.container, &r.reason)?;
        }
        audit.write(
            Event::Approved,
            "",
            &format!(
                "{} matches its plan {}",
                path.display(),
                plan_path.display()
            ),
        )?;
        println!("{}  {}", verb(NOTE, "Seed"), reviewed.seed);
        println!(
            "{}  game day {} on {} (run {run}, plan {}, audit {})",
            verb(NOTE, "Running"),
            scenario.name,
            planned.plan.engine,
            plan::short(&planned.plan.hash),
            audit.path().display()
        );
        let audit = Arc::new(Mutex::new(audit));
        let limits = scenario
            .gameday
            .as_ref()
            .map(|g| g.limits.clone())
            .ok_or_else(|| Stop(exit::BAD_INPUT, "no `[gameday]` section".to_owned()))?;
        let attached = planned.scenario.clone();
        let plan_json = serde_json::to_string_pretty(&planned.plan).unwrap_or_default() + "\n";
        let extra = attach::Extra {
            docker,
            planned,
            limits,
            audit: audit.clone(),
            armed: Arc::new(Armed::default()),
            run,
        };
        let run_plan = execute::Plan {
            backend: BackendKind::Gameday,
            seed: reviewed.seed,
            duration: None,
        };
        let judged = execute::judge_with(&attached, &run_plan, None, |opts| {
            squall::gameday::run(opts, extra)
        })
        .map_err(|e| run_stop(&e))?;
        print_verdicts(&judged.report);
        let base = out.unwrap_or_else(|| PathBuf::from("reports"));
        let dir = execute::write(&judged, execute::Dest::Under(&base)).map_err(|e| run_stop(&e))?;
        let last = audit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .to_owned();
        let written = std::fs::write(dir.join("plan.json"), plan_json).and_then(|()| {
            std::fs::write(
                dir.join("gameday.json"),
                serde_json::to_string_pretty(&serde_json::json!({
                    "plan": reviewed.hash,
                    "audit": audit_path.display().to_string(),
                    "audit_last_hash": last,
                }))
                .unwrap_or_default()
                    + "\n",
            )
        });
        written.map_err(|e| {
            Stop(
                exit::ENVIRONMENT,
                format!("cannot write to {}: {e}", dir.display()),
            )
        })?;
        let held = judged.report.invariants.iter().filter(|v| v.held).count();
        let failed = judged.report.invariants.len() - held;
        println!(
            "{}  {held} held, {failed} failed in {} of game day ({:.1}s wall), every fault undone  -> {}/",
            verb(if failed == 0 { GOOD } else { BAD }, "Summary"),
            fmt_duration(judged.load),
            judged.wall.as_secs_f64(),
            dir.display()
        );
        Ok(if failed == 0 {
            exit::HELD
        } else {
            exit::INVARIANT_FAILED
        })
    })())
}

fn run_stop(e: &RunError) -> Stop {
    Stop(e.exit_code(), e.to_string())
}

fn halt_command(reason: &str, audit_path: &Path) -> i32 {
    report((|| {
        let rt = runtime().ok_or_else(|| Stop(exit::ENVIRONMENT, "no runtime".to_owned()))?;
        let by = audit::user();
        let earlier = rt.block_on(async {
            let (docker, _) = squall::docker::connect().await?;
            halt::halt(&docker, reason, &by).await
        })?;
        match earlier {
            Some(h) => println!("{}  already {h}", verb(NOTE, "Halted")),
            None => {
                Audit::open(audit_path, "")?.write(Event::Halt, "", reason)?;
                println!(
                    "{}  every game day on {} heals and stops; new ones refuse until `squall gameday unhalt`",
                    verb(BAD, "Halted"),
                    squall::docker::engine_host()
                );
            }
        }
        Ok(exit::HELD)
    })())
}

fn unhalt_command(audit_path: &Path) -> i32 {
    report((|| {
        let rt = runtime().ok_or_else(|| Stop(exit::ENVIRONMENT, "no runtime".to_owned()))?;
        let lifted = rt.block_on(async {
            let (docker, _) = squall::docker::connect().await?;
            halt::unhalt(&docker).await
        })?;
        if lifted {
            Audit::open(audit_path, "")?.write(Event::Unhalt, "", "lever lifted")?;
            println!("{}  game days may run again", verb(GOOD, "Unhalted"));
        } else {
            println!("{}  the lever was not pulled", verb(NOTE, "Unhalted"));
        }
        Ok(exit::HELD)
    })())
}

fn status_command() -> i32 {
    report((|| {
        let rt = runtime().ok_or_else(|| Stop(exit::ENVIRONMENT, "no runtime".to_owned()))?;
        let lever = rt.block_on(async {
            let (docker, _) = squall::docker::connect().await?;
            halt::halted(&docker).await
        })?;
        match lever {
            Some(h) => println!("{}  {h}", verb(BAD, "Halted")),
            None => println!("{}  the halt lever is not pulled", verb(GOOD, "Lever")),
        }
        let journals = squall::docker::journal::list();
        if journals.is_empty() {
            println!(
                "{}  no run of this machine's is live or left anything",
                verb(GOOD, "Runs")
            );
        }
        for j in journals {
            let state = if j.writer_alive() {
                "live"
            } else {
                "orphaned (run `squall heal`)"
            };
            let left = j.left();
            println!(
                "{}  {} {state}{}",
                verb(NOTE, "Run"),
                j.run,
                if left.is_empty() {
                    String::new()
                } else {
                    format!(": {}", left.join("; "))
                }
            );
        }
        Ok(exit::HELD)
    })())
}

fn verify_command(file: &Path) -> i32 {
    match audit::verify(file) {
        Ok(v) => {
            println!(
                "{}  {}: {} line(s), the chain holds; last hash {}",
                verb(GOOD, "Verified"),
                file.display(),
                v.lines,
                v.last
            );
            exit::HELD
        }
        Err(e @ audit::AuditError::Broken { .. }) => {
            eprintln!("{BAD}error{BAD:#}: the audit log is broken: {e}");
            exit::INVARIANT_FAILED
        }
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            exit::BAD_INPUT
        }
    }
}
