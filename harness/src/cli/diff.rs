//! `squall diff A B`: two runs of a scenario compared, for a terminal or
//! (`--markdown`) a pull-request comment. The comparison is
//! [`squall::report::diff`]'s; this prints it and picks the exit code.

use std::path::PathBuf;

use anstream::{eprintln, println};

use squall::exit;
use squall::report::diff::{self, Diff, Direction};

use super::{verb, BAD, GOOD, NOTE};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:\n  \
    squall diff reports/card-auth/20261128T101500Z-seed1 reports/card-auth/20261129T101500Z-seed1\n  \
    squall diff last-night/card-auth/1-seed1/report.json tonight/card-auth/1-seed1 --markdown > comment.md\n\n\
    See docs/suites.md.")]
pub struct DiffArgs {
    /// The earlier run: its directory, or its report.json.
    #[arg(value_name = "RUN_A")]
    a: PathBuf,
    /// The later run, of the same scenario.
    #[arg(value_name = "RUN_B")]
    b: PathBuf,
    /// Print Markdown tables (for a pull-request comment) instead of lines.
    #[arg(long)]
    markdown: bool,
}

pub fn diff(args: DiffArgs) -> i32 {
    let compared = diff::load(&args.a)
        .and_then(|a| diff::load(&args.b).map(|b| (a, b)))
        .and_then(|(a, b)| Diff::of(&a, &b));
    let d = match compared {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{BAD}error{BAD:#}: {e}");
            return exit::BAD_INPUT;
        }
    };
    if args.markdown {
        print!("{}", diff::markdown(&d));
    } else {
        print_lines(&d);
    }
    if d.worse() {
        exit::INVARIANT_FAILED
    } else {
        exit::HELD
    }
}

fn print_lines(d: &Diff) {
    println!("{}  {}", verb(NOTE, "Diff"), d.scenario);
    println!("{}  {}", verb(NOTE, "A"), d.a);
    println!("{}  {}", verb(NOTE, "B"), d.b);
    let width = d
        .invariants
        .iter()
        .map(|i| i.label.len())
        .chain(d.figures.iter().map(|f| f.name.len()))
        .max()
        .unwrap_or(0);
    for i in &d.invariants {
        let word = match i.direction() {
            Direction::Worse => verb(BAD, "Worse"),
            Direction::Better => verb(GOOD, "Better"),
            Direction::Same => verb(NOTE, "Same"),
        };
        let (a, b) = (
            diff::verdict_cell(i.a, i.unit),
            diff::verdict_cell(i.b, i.unit),
        );
        if a == b {
            println!("{word}  {:width$}  {a}", i.label);
        } else {
            println!("{word}  {:width$}  {a} -> {b}", i.label);
        }
    }
    for f in &d.figures {
        let word = if f.moved() {
            verb(NOTE, "Moved")
        } else {
            verb(NOTE, "Same")
        };
        println!("{word}  {:width$}  {}", f.name, f.describe());
    }
    let moved = d.figures.iter().filter(|f| f.moved()).count();
    let worse = d
        .invariants
        .iter()
        .filter(|i| i.direction() == Direction::Worse)
        .count();
    println!(
        "{}  {worse} invariant(s) got worse, {moved} of {} figures moved",
        verb(if worse > 0 { BAD } else { GOOD }, "Summary"),
        d.figures.len()
    );
}
